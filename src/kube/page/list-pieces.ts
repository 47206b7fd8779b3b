/**
 * A PartialObjectMetadataList page parsed in pieces of about PIECE_BYTES of its items, instead of
 * as one string.
 *
 * Why: V8 puts a string of more than 128 KB in its large-object space, which maps fresh memory
 * for each one and gives it back at the next collection; the kernel then faults in and zeroes
 * every page of it again. A metadata-only page, managedFields cut, is 100-400 KB, so decoding it
 * whole took several times as long as decoding it in pieces that young strings can hold
 * (docs/benchmarks.md, "Choices in the code"). Node decodes a text of more than about 1 MB into memory of its own (an external
 * string), which does not pay this. Pages of full objects of 128 KB to 1 MB do pay it, but are not
 * split here: no mark starts their items alone (`,{"metadata":` also opens an entry of a
 * StatefulSet's volumeClaimTemplates), so a split would often be refused and the page parsed twice.
 *
 * Why it is exact: the page must be laid out as the API server writes this list
 * (`{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{...},"items":[` ...
 * `]}`), with the list's metadata found by a scan that skips strings; the items are split only
 * before `,{"kind":"PartialObjectMetadata",`. Each piece must parse as the elements of an array
 * and the page without its items as that list with none: then the page's items are the pieces'
 * elements, in order (a split inside an item or a string would leave a piece that does not
 * parse). Anything else returns undefined, and the caller parses the page whole.
 */
import { isAscii } from 'node:buffer';
import { bytesOf, valueEnd } from './json-text.js';

/** Decodes `bytes[start, end)` of a page as text. */
export type Decode = (bytes: Buffer, start: number, end: number) => string;

const latin1: Decode = (bytes, start, end) => bytes.toString('latin1', start, end);
const utf8: Decode = (bytes, start, end) => bytes.toString('utf8', start, end);

/** How to decode a page: pages are almost always ASCII, and then latin1 is the same text, copied rather than decoded (3x faster). */
export function decoderFor(bytes: Buffer): Decode {
  return isAscii(bytes) ? latin1 : utf8;
}

/** Big enough that a page is a handful of pieces, small enough to stay a young string. */
const PIECE_BYTES = 64 * 1024;
const HEAD = Buffer.from('{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":');
const ITEMS = Buffer.from(',"items":[');
const NEXT_ITEM = Buffer.from(',{"kind":"PartialObjectMetadata",');
const CLOSE_BRACKET = 0x5d;
const CLOSE_BRACE = 0x7d;
const JSON_WHITESPACE = new Set([0x20, 0x0a, 0x0d, 0x09]);

/**
 * Where the items of a PartialObjectMetadataList page lie, when the page is laid out as the API
 * server writes that list (see above): `[start, end)` holds the items' text, between the array's
 * brackets. Undefined for any other layout.
 */
function itemsSpan(bytes: Buffer): { start: number; end: number } | undefined {
  if (!bytes.subarray(0, HEAD.length).equals(HEAD)) return undefined;
  const metadataEnd = valueEnd(bytesOf(bytes), HEAD.length);
  if (metadataEnd < 0 || !bytes.subarray(metadataEnd, metadataEnd + ITEMS.length).equals(ITEMS)) return undefined;
  const start = metadataEnd + ITEMS.length;
  let close = bytes.length - 1;
  while (close > start && bytes[close] !== CLOSE_BRACE) close--;
  const end = close - 1;
  if (bytes[end] !== CLOSE_BRACKET) return undefined;
  for (let i = close + 1; i < bytes.length; i++) if (!JSON_WHITESPACE.has(bytes[i]!)) return undefined;
  return { start, end };
}

/** The page's JSON parsed, or undefined when it is not laid out as above (or is small enough to parse whole). */
export function parseInPieces(bytes: Buffer, decode: Decode): unknown {
  if (bytes.length <= PIECE_BYTES) return undefined;
  const span = itemsSpan(bytes);
  if (span === undefined) return undefined;
  const { start: itemsStart, end: itemsEnd } = span;
  try {
    // The page without its items must be that list with none.
    const list = JSON.parse(decode(bytes, 0, itemsStart) + decode(bytes, itemsEnd, bytes.length)) as { items?: unknown };
    if (!Array.isArray(list.items) || list.items.length !== 0) return undefined;
    const items: unknown[] = [];
    for (let from = itemsStart; from < itemsEnd;) {
      const split = from + PIECE_BYTES < itemsEnd ? bytes.indexOf(NEXT_ITEM, from + PIECE_BYTES) : -1;
      const to = split >= 0 && split < itemsEnd ? split : itemsEnd;
      for (const item of JSON.parse(`[${decode(bytes, from, to)}]`) as unknown[]) items.push(item);
      from = to === itemsEnd ? itemsEnd : to + 1;
    }
    list.items = items;
    return list;
  } catch {
    // Not the layout the splits assumed: the caller parses the page whole, and reports it if it is broken.
    return undefined;
  }
}
