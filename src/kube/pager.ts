import type { ListSettings } from '../config/schema.js';
import { ContinueExpiredError, KubeApiError } from '../errors.js';
import type { KubeObject } from '../rows/project.js';
import { resourceTypeKey } from '../rows/row.js';
import type { KubeClient, KubeResponse } from './client.js';
import { groupVersionPath, type DiscoveredType } from './discovery.js';
import { bytesOf, valueEnd } from './json-text.js';
import { decoderFor, parseInPieces } from './list-pieces.js';
import { withoutManagedFields } from './managed-fields.js';
import { hasRowMetadata, withoutMetadataTail } from './metadata-tail.js';
import { getWithRetry, parseStatus, statusError, type RequestDeps } from './request.js';

/** The list settings one type's list uses (concurrency and workers are the caller's). */
export interface ListOptions extends Pick<ListSettings, 'pageSize' | 'retries' | 'relists' | 'timeout'> {
  /** Ask for PartialObjectMetadataList: the server drops spec, status and data before sending. */
  metadataOnly: boolean;
}

/** A page as it came, not parsed: whoever parses it (maybe another thread) checks the token it was listed with. */
export interface ListBody {
  kind: 'body';
  /** The answer's JSON, decompressed. */
  body: Buffer;
  /** The continue token the pager read from the page and listed the next page with; '' on the last page. */
  continue: string;
  /** For messages: `list pods (page 3)`. */
  what: string;
}

/** What `listBodies` yields, in order. */
export type ListBodyEvent =
  | ListBody
  /** The continue token expired: everything yielded so far for this type is void; the list starts over. */
  | { kind: 'restart'; reason: string }
  /** 403: the type cannot be listed with these credentials; nothing more comes. */
  | { kind: 'forbidden'; message: string };

export const FULL_OBJECTS = 'application/json';
export const METADATA_ONLY = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

interface ParsedList {
  kind?: string;
  metadata?: { continue?: string; resourceVersion?: string };
  items?: KubeObject[];
}

/** How a page is parsed. */
export interface ParseOptions {
  /** Leave out each item's metadata.managedFields (only for PartialObjectMetadataList pages: see managed-fields.ts). */
  withoutManagedFields?: boolean;
  /**
   * The caller reads nothing of an item but a row's own metadata (name, namespace, uid,
   * resourceVersion, creationTimestamp, labels): a PartialObjectMetadataList page leaves out the
   * rest of each item's metadata (metadata-tail.ts), else at least its managedFields.
   * `namespaced`: whether every item must have a namespace.
   */
  rowMetadataOnly?: { namespaced: boolean };
}

/** A page's items, parsed, and what the row encoder may know of their text. */
export interface ParsedPage {
  items: KubeObject[];
  /**
   * True when the text parsed held no backslash. Then no string in it was escaped, so none holds
   * a quote, a backslash or a control character (JSON writes them only escaped) or a lone
   * surrogate (only an escape writes one; decoding turns broken UTF-8 into U+FFFD): the JSON of
   * each of its strings is the string in quotes, as the row encoder would otherwise test string
   * by string.
   */
  plainStrings: boolean;
}

const BACKSLASH = 0x5c;

function parseList(body: Buffer, what: string, options: ParseOptions = {}): { list: ParsedList; plainStrings: boolean } {
  const lean = options.rowMetadataOnly ? leanList(body, options.rowMetadataOnly.namespaced) : undefined;
  if (lean !== undefined) return lean;
  const bytes = options.withoutManagedFields || options.rowMetadataOnly ? withoutManagedFields(body) : body;
  let parsed: unknown;
  try {
    parsed = parseText(bytes);
  } catch (error) {
    throw new KubeApiError(`${what}: the answer is not JSON`, {}, { cause: error });
  }
  const list = parsed as ParsedList;
  if (!isList(parsed)) throw new KubeApiError(`${what}: the answer is not a list (kind ${String(list?.kind)})`);
  return { list, plainStrings: plain(bytes) };
}

function parseText(bytes: Buffer): unknown {
  const decode = decoderFor(bytes);
  return parseInPieces(bytes, decode) ?? JSON.parse(decode(bytes, 0, bytes.length));
}

function isList(parsed: unknown): parsed is ParsedList {
  return parsed !== null && typeof parsed === 'object' && Array.isArray((parsed as ParsedList).items);
}

function plain(bytes: Buffer): boolean {
  return bytes.indexOf(BACKSLASH) < 0;
}

/** The page parsed without its items' metadata tails, or undefined when that cut does not apply to it (see metadata-tail.ts). */
function leanList(body: Buffer, namespaced: boolean): { list: ParsedList; plainStrings: boolean } | undefined {
  const bytes = withoutMetadataTail(body);
  if (bytes === undefined) return undefined;
  let parsed: unknown;
  try {
    parsed = parseText(bytes);
  } catch {
    // A cut that fell where the proofs of metadata-tail.ts do not hold leaves text that does not parse: parse the page as it came.
    return undefined;
  }
  return isList(parsed) && hasRowMetadata(parsed.items!, namespaced) ? { list: parsed, plainStrings: plain(bytes) } : undefined;
}

/**
 * Parses a page `listBodies` yielded, and checks that its continue token is the one the pager
 * listed the next page with (so a page read by `peekContinue` cannot silently skip or repeat).
 */
export function parsePage(page: Pick<ListBody, 'body' | 'continue' | 'what'>, options: ParseOptions = {}): ParsedPage {
  const { list, plainStrings } = parseList(page.body, page.what, options);
  const token = list.metadata?.continue ?? '';
  if (token !== page.continue) {
    throw new KubeApiError(`${page.what}: the page's continue token is not the one its list went on with`, { what: page.what });
  }
  return { items: list.items!, plainStrings };
}

const METADATA_KEY = Buffer.from('"metadata":');
const ITEMS_KEY = Buffer.from('"items":');

function metadataAt(body: Buffer, key: number): { continue?: string } | undefined {
  const start = key + METADATA_KEY.length;
  const end = valueEnd(bytesOf(body), start);
  if (end < 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8', start, end)) as { continue?: string };
  } catch {
    return undefined;
  }
}

/**
 * The list's continue token ('' for the last page), read without parsing the items, or undefined
 * when the page is not laid out as API servers write lists. Built-in types come as
 * `{"kind","apiVersion","metadata":{...},"items":[...]}` (Go struct order); custom resources,
 * encoded from a map, as `{"apiVersion","items":[...],"kind","metadata":{...}}` (sorted keys).
 */
export function peekContinue(body: Buffer): string | undefined {
  const items = body.indexOf(ITEMS_KEY);
  if (items < 0) return undefined;
  const head = body.subarray(0, items).indexOf(METADATA_KEY);
  let metadata: { continue?: string } | undefined;
  if (head >= 0) {
    metadata = metadataAt(body, head);
  } else {
    // Metadata last: its object is followed only by the list's closing brace.
    const tail = body.lastIndexOf(METADATA_KEY);
    const end = tail > items ? valueEnd(bytesOf(body), tail + METADATA_KEY.length) : -1;
    if (end < 0 || body.toString('utf8', end).trim() !== '}') return undefined;
    metadata = metadataAt(body, tail);
  }
  if (metadata === undefined || typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return undefined;
  return typeof metadata.continue === 'string' ? metadata.continue : '';
}

/**
 * Lists one resource type cluster-wide, a page of `pageSize` objects at a time, and yields each
 * page unparsed, so that parsing may happen elsewhere (a list worker) while the next page is on
 * its way: the continue token is read from the page's list metadata alone (`peekContinue`). A 410
 * on a continue token restarts the list from the beginning (the caller discards what it had, so
 * nothing is counted twice), at most `relists` times; 429, 5xx and broken connections are retried
 * with backoff; 403 ends the list with a `forbidden` event.
 */
export async function* listBodies(client: KubeClient, type: DiscoveredType, options: ListOptions, deps: RequestDeps): AsyncGenerator<ListBodyEvent> {
  const base = `${groupVersionPath(type.group, type.version)}/${type.resource}`;
  const accept = options.metadataOnly ? METADATA_ONLY : FULL_OBJECTS;
  const request = (token: string | undefined): Promise<KubeResponse> => {
    const query = new URLSearchParams({ limit: String(options.pageSize) });
    if (token !== undefined) query.set('continue', token);
    return getWithRetry(client, `${base}?${query.toString()}`, accept, options, deps);
  };
  let relists = 0;
  let page = 0;
  let pending: Promise<KubeResponse> | undefined = request(undefined);
  try {
    while (pending) {
      const what = `list ${resourceTypeKey(type)} (page ${page + 1})`;
      const response: KubeResponse = await pending;
      pending = undefined;

      if (response.status === 410) {
        const status = parseStatus(response);
        if (relists >= options.relists) {
          throw new ContinueExpiredError(`${what}: the continue token expired ${relists + 1} times; the list never completed (raise list.pageSize or list.relists)`, {
            resource: type.resource,
          });
        }
        relists++;
        page = 0;
        yield { kind: 'restart', reason: status.message ?? 'continue token expired (410 Gone)' };
        pending = request(undefined);
        continue;
      }
      if (response.status === 403) {
        yield { kind: 'forbidden', message: parseStatus(response).message ?? `403 Forbidden listing ${type.resource}` };
        return;
      }
      if (response.status !== 200) throw statusError(what, response, client);

      // A page laid out unlike an API server's is parsed here, just for its token.
      const token = peekContinue(response.body) ?? parseList(response.body, what).list.metadata?.continue ?? '';
      page++;
      // Ask for the next page before handing this one over: the server works while kollect projects.
      if (token !== '') pending = request(token);
      yield { kind: 'body', body: response.body, continue: token, what };
    }
  } finally {
    // The caller stopped early (an error, an abort): the prefetched page is not wanted, and its
    // failure must not surface as an unhandled rejection.
    pending?.catch(() => undefined);
  }
}
