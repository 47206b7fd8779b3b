/**
 * Finding the end of a JSON value in a page's bytes without parsing it: the pager reads a
 * list's continue token this way, and metadata-only pages drop managedFields before parsing.
 * Works on UTF-8 bytes: the bytes of a multi-byte character are never a quote, a backslash or a
 * bracket.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;
const OPEN_BRACKET = 0x5b;
const CLOSE_BRACKET = 0x5d;

/**
 * The index after the JSON object or array that opens at `from`, skipping over strings (and
 * their escapes); -1 when `from` opens neither or the value does not end within `bytes`.
 */
export function valueEnd(bytes: Uint8Array, from: number): number {
  if (bytes[from] !== OPEN_BRACE && bytes[from] !== OPEN_BRACKET) return -1;
  let depth = 0;
  for (let i = from; i < bytes.length; i++) {
    const c = bytes[i];
    if (c === QUOTE) {
      for (i++; i < bytes.length && bytes[i] !== QUOTE; i++) if (bytes[i] === BACKSLASH) i++;
    } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
      depth++;
    } else if ((c === CLOSE_BRACE || c === CLOSE_BRACKET) && --depth === 0) {
      return i + 1;
    }
  }
  return -1;
}
