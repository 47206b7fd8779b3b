import { BACKSLASH, CLOSE_BRACE, CLOSE_BRACKET, OPEN_BRACE, OPEN_BRACKET, QUOTE } from '../../bytes.js';

/**
 * Finding the end of a JSON value in a page's bytes without parsing it: a list's continue token
 * is read this way (peek-continue.ts), and metadata-only pages drop managedFields before parsing.
 * Works on UTF-8 bytes: the bytes of a multi-byte character are never a quote, a backslash or a
 * bracket.
 */

/** What each byte is to the scanner: 0 for anything that neither opens nor closes a value. */
const OTHER = 0;
const STRING = 1;
const OPENS = 2;
const CLOSES = 3;
const BYTE_CLASS = new Uint8Array(256);
BYTE_CLASS[QUOTE] = STRING;
BYTE_CLASS[OPEN_BRACE] = OPENS;
BYTE_CLASS[OPEN_BRACKET] = OPENS;
BYTE_CLASS[CLOSE_BRACE] = CLOSES;
BYTE_CLASS[CLOSE_BRACKET] = CLOSES;

/**
 * The page's bytes as a plain Uint8Array, which is what `valueEnd` should be given: V8 reads the
 * bytes of a Buffer (a subclass) more slowly than those of a plain view of the same memory
 * (docs/benchmarks.md, "Choices in the code").
 */
export function bytesOf(buffer: Buffer): Uint8Array {
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}

/**
 * The index after the JSON object or array that opens at `from`, skipping over strings (and
 * their escapes); -1 when `from` opens neither or the value does not end within `bytes`.
 * One table look-up per byte outside strings (a chain of comparisons was 1.75x slower on
 * metadata pages, where this scans every managedFields array).
 */
export function valueEnd(bytes: Uint8Array, from: number): number {
  if (BYTE_CLASS[bytes[from]!] !== OPENS) return -1;
  const length = bytes.length;
  let depth = 0;
  let i = from;
  while (i < length) {
    const kind = BYTE_CLASS[bytes[i]!]!;
    if (kind === OTHER) {
      i++;
    } else if (kind === STRING) {
      for (i++; i < length; i++) {
        const c = bytes[i];
        if (c === QUOTE) break;
        if (c === BACKSLASH) i++;
      }
      i++;
    } else if (kind === OPENS) {
      depth++;
      i++;
    } else {
      if (--depth === 0) return i + 1;
      i++;
    }
  }
  return -1;
}
