/**
 * `metadata.managedFields` cut out of a list's JSON text before it is parsed, for lists whose
 * rows read nothing but metadata (metadata-only profiles, PartialObjectMetadataList pages).
 *
 * There, managedFields (server-side apply bookkeeping) is about half of every item's bytes, and
 * kollect never keeps it: neither rows nor checksums read it. Parsing builds an object for each
 * of its many small keys; skipping the text instead saves about a third of a metadata page's
 * parse (measured on kube-sim pages of pods).
 *
 * Why a text search is exact: in valid JSON an unescaped quote after `,` or `{` opens a key
 * (inside a string every quote is escaped, and a closing quote is never followed by a letter),
 * so `,"managedFields":[` or `{"managedFields":[` is always a key whose value is an array. In
 * metadata, only managedFields itself can be such a key: labels and annotations map to strings,
 * ownerReferences entries have fixed fields, and the keys inside managedFields entries carry a
 * prefix (`f:`, `k:`, `v:`, `i:`) or are `.`. Should a server send full objects anyway, a key of
 * that name elsewhere (a custom resource's spec) is outside metadata, which is all such a row
 * reads. Text laid out otherwise (a space after the colon) is left as it is and parsed whole.
 *
 * It works on the page's bytes, before they are decoded: the text decoded is then only what is kept.
 *
 * Where the array ends is found without scanning it whenever it can be proven (`arrayEndBefore`):
 * the scan was most of this cut's cost.
 */

import { bytesOf, valueEnd } from './json-text.js';

const KEY = Buffer.from('"managedFields":[');
/**
 * What the key is searched for by: its tail. Buffer.indexOf scans for a needle's first byte, and
 * a quote starts every few bytes of JSON, while a capital F is rare, so far fewer candidates are
 * checked (docs/benchmarks.md, "Choices in the code").
 */
const NEEDLE = Buffer.from('Fields":[');
const NEEDLE_AT = KEY.length - NEEDLE.length;
const COMMA = 0x2c;
const OPEN_BRACE = 0x7b;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;
/**
 * The end of a PartialObjectMetadata item's managedFields and the start of the next item: the
 * server writes ObjectMeta in field order (managedFields last) and each item as
 * `{"kind":"PartialObjectMetadata","apiVersion":...,"metadata":{...}}`.
 */
const NEXT_ITEM = Buffer.from(']}},{"kind":"PartialObjectMetadata",');

/**
 * The index after the array that opens at `open`, when the next item's start (the first
 * NEXT_ITEM at or after `open`, at `close`; -1 for none) proves it without a scan; -1 when it
 * does not (the last item of a page, another layout, a bracket inside the array).
 *
 * The proof: the `"` before `kind` follows `{`, so it is not escaped, and a closing quote is
 * never followed by a letter: it opens a key, so the `]` at the needle's start is outside any
 * string (a string holding it would have to close at that quote). When no `[` or `]` byte at
 * all lies between `open` and that `]`, nothing between can open or close an array, so that
 * `]` is the one that closes `open`'s: where `valueEnd` would have stopped.
 */
function arrayEndBefore(body: Buffer, open: number, close: number): number {
  // Buffer.indexOf, not the Uint8Array's: a byte is found by memchr, several times faster.
  if (close < 0 || body.indexOf(CLOSE_BRACKET, open + 1) !== close) return -1;
  const bracket = body.indexOf(OPEN_BRACKET, open + 1);
  return bracket >= 0 && bracket < close ? -1 : close + 1;
}

/** Where the next `"managedFields":[` starts at or after `from`; -1 when there is none. */
function keyAt(body: Buffer, bytes: Uint8Array, from: number): number {
  for (let at = body.indexOf(NEEDLE, from + NEEDLE_AT); at >= 0; at = body.indexOf(NEEDLE, at + 1)) {
    const start = at - NEEDLE_AT;
    if (startsKey(bytes, start)) return start;
  }
  return -1;
}

/** True when `"managed` comes at `start` (a byte loop: a native compare per match costs more). */
function startsKey(bytes: Uint8Array, start: number): boolean {
  for (let i = 0; i < NEEDLE_AT; i++) if (bytes[start + i] !== KEY[i]) return false;
  return true;
}

/**
 * A list's JSON without any `metadata.managedFields`. Valid JSON stays valid and parses to the
 * same value minus those keys; a value that does not close is left, from there on, as it is, so
 * a broken page still fails to parse.
 */
export function withoutManagedFields(body: Buffer): Buffer {
  const bytes = bytesOf(body);
  let at = keyAt(body, bytes, 0);
  if (at < 0) return body;
  const parts: Buffer[] = [];
  let from = 0;
  // The next item's start, searched again only once passed: where there is none (a page laid out
  // otherwise), the rest of the page is searched once, not once per item.
  let nextItem = body.indexOf(NEXT_ITEM, at);
  while (at >= 0) {
    const before = bytes[at - 1];
    if (before !== COMMA && before !== OPEN_BRACE) {
      at = keyAt(body, bytes, at + 1);
      continue;
    }
    const open = at + KEY.length - 1;
    if (nextItem >= 0 && nextItem < open) nextItem = body.indexOf(NEXT_ITEM, open);
    const proven = arrayEndBefore(body, open, nextItem);
    const end = proven >= 0 ? proven : valueEnd(bytes, open);
    if (end < 0) break;
    if (bytes[end] === COMMA) {
      // `"managedFields":[...],` : the key, its array and the comma after them.
      parts.push(body.subarray(from, at));
      from = end + 1;
    } else if (before === COMMA) {
      // `,"managedFields":[...]` last in its object: the comma before it too.
      parts.push(body.subarray(from, at - 1));
      from = end;
    } else {
      // `{"managedFields":[...]}`: the object's only key.
      parts.push(body.subarray(from, at));
      from = end;
    }
    at = keyAt(body, bytes, from);
  }
  parts.push(body.subarray(from));
  return Buffer.concat(parts);
}
