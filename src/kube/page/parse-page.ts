/**
 * A page of a list, from the API server's JSON text to the objects rows are made of: the one
 * place kollect parses a page. The pager (src/kube/pager.ts) only pages; it calls `pageContinue`
 * for the token it lists the next page with, and whoever makes the rows (a list worker or the
 * main thread) calls `parsePage`.
 *
 * Two ways to the same objects, as far as rows read them. The plain way (`list.fastParse: false`)
 * is `JSON.parse` of the whole page. The fast way (the default) works on the page's text where
 * it can prove the result the same, each trick in a module of its own:
 * - peek-continue.ts: the continue token read without parsing the items;
 * - managed-fields.ts: metadata.managedFields cut out of the text when rows do not read it;
 * - list-pieces.ts: a page of metadata decoded and parsed in pieces (and ASCII copied, not decoded);
 * - `plainStrings`: a text without a backslash tells the row encoder that no string needs an escape.
 * test/kube/page/parse-page.test.ts holds the fast way to the plain one, row for row, on pages
 * recorded from a real kube-apiserver.
 */
import { KubeApiError } from '../../errors.js';
import { printable } from '../../format.js';
import type { KubeObject } from '../../rows/project.js';
import { decoderFor, parseInPieces } from './list-pieces.js';
import { withoutManagedFields } from './managed-fields.js';
import { peekContinue } from './peek-continue.js';

/** A page as the pager hands it on: its text, and the continue token its list went on with. */
export interface ListedPage {
  /** The answer's JSON, decompressed. */
  body: Buffer;
  /** The continue token the pager read from the page and listed the next page with; '' on the last page. */
  continue: string;
  /** For messages: `list pods (page 3)`. */
  what: string;
}

/** How a page is parsed. */
export interface PageParseOptions {
  /** Work on the page's text where that is proven exact (list.fastParse); false: `JSON.parse` of the whole page. */
  fastParse: boolean;
  /** Rows read nothing of an item's metadata.managedFields, so a fast parse may leave it out (see managed-fields.ts). */
  withoutManagedFields?: boolean;
}

/** A page's items, parsed, and what the row encoder may know of their text. */
export interface ParsedPage {
  items: KubeObject[];
  /**
   * True when the text parsed held no backslash. Then no string in it was escaped, so none holds
   * a quote, a backslash or a control character (JSON writes them only escaped) or a lone
   * surrogate (only an escape writes one; decoding turns broken UTF-8 into U+FFFD): the JSON of
   * each of its strings is the string in quotes, as the row encoder would otherwise test string
   * by string. Always false on the plain way, which tests every string.
   */
  plainStrings: boolean;
}

interface ParsedList {
  kind?: unknown;
  metadata?: { continue?: string };
  items: KubeObject[];
}

const BACKSLASH = 0x5c;

/** What `parse` gives, as a list; KubeApiError when the page is not JSON or not a list. */
function listOf(what: string, parse: () => unknown): ParsedList {
  let parsed: unknown;
  try {
    parsed = parse();
  } catch (error) {
    throw new KubeApiError(`${what}: the answer is not JSON`, {}, { cause: error });
  }
  const list = parsed as Partial<ParsedList> | null;
  if (list === null || typeof list !== 'object' || !Array.isArray(list.items)) {
    throw new KubeApiError(`${what}: the answer is not a list (kind ${printable(String(list?.kind))})`);
  }
  return list as ParsedList;
}

function plainList(body: Buffer, what: string): ParsedList {
  return listOf(what, () => JSON.parse(body.toString('utf8')));
}

function fastList(text: Buffer, what: string): ParsedList {
  return listOf(what, () => {
    const decode = decoderFor(text);
    return parseInPieces(text, decode) ?? JSON.parse(decode(text, 0, text.length));
  });
}

/**
 * Parses a page the pager handed on, and checks that its continue token is the one the pager
 * listed the next page with (so a token read by `peekContinue` cannot silently skip or repeat).
 */
export function parsePage(page: ListedPage, options: PageParseOptions): ParsedPage {
  let list: ParsedList;
  let plainStrings = false;
  if (options.fastParse) {
    const text = options.withoutManagedFields ? withoutManagedFields(page.body) : page.body;
    list = fastList(text, page.what);
    plainStrings = text.indexOf(BACKSLASH) < 0;
  } else {
    list = plainList(page.body, page.what);
  }
  if ((list.metadata?.continue ?? '') !== page.continue) {
    throw new KubeApiError(`${page.what}: the page's continue token is not the one its list went on with`, { what: page.what });
  }
  return { items: list.items, plainStrings };
}

/**
 * The token to list the next page with ('' after the last page): peeked at when `fastParse` and
 * the page is laid out as API servers write lists, else read from the page parsed whole.
 */
export function pageContinue(body: Buffer, what: string, options: Pick<PageParseOptions, 'fastParse'>): string {
  const peeked = options.fastParse ? peekContinue(body) : undefined;
  return peeked ?? plainList(body, what).metadata?.continue ?? '';
}
