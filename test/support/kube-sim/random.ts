/**
 * Deterministic integer hashing: every generated value is a pure function of (seed, inputs), so
 * an object can be produced again at any time without being stored.
 */

/**
 * A bijective 32-bit mixer (Chris Wellons' lowbias32): distinct inputs always give distinct
 * outputs, which is what makes uids derived from distinct object ids unique, not just unlikely
 * to collide.
 */
export function mix32(x: number): number {
  x ^= x >>> 16;
  x = Math.imul(x, 0x7feb352d);
  x ^= x >>> 15;
  x = Math.imul(x, 0x846ca68b);
  x ^= x >>> 16;
  return x >>> 0;
}

/** A 32-bit hash of two integers. */
export function hash2(a: number, b: number): number {
  return mix32(mix32(a) ^ Math.imul(b, 0x9e3779b1) ^ (b >>> 16));
}

/** A 32-bit hash of three integers. */
export function hash3(a: number, b: number, c: number): number {
  return hash2(hash2(a, b), c);
}

/** Maps a 32-bit hash to [0, 1). */
export function unit(h: number): number {
  return h / 4294967296;
}

/** A seeded stream of numbers in [0, 1) (mulberry32), for building the small layout tables. */
export function randomStream(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Byte values as two hex digits: Number#toString(16) is too slow for the hot path. */
const BYTE_HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/** `n` as 8 lowercase hex digits. */
export function hex8(n: number): string {
  return BYTE_HEX[n >>> 24]! + BYTE_HEX[(n >>> 16) & 255]! + BYTE_HEX[(n >>> 8) & 255]! + BYTE_HEX[n & 255]!;
}

/** `n` (16 bits) as 4 lowercase hex digits. */
function hex4(n: number): string {
  return BYTE_HEX[n >>> 8]! + BYTE_HEX[n & 255]!;
}

/**
 * A UUID-shaped (version 4 layout) string for object `id`. The first group is a bijection of
 * `id` for a given salt, so two ids never share a uid.
 */
export function uuidFor(id: number, salt: number): string {
  const b = hash2(salt, id);
  const c = hash2(b, 1);
  // The version digit 4 replaces b's fifth hex digit, and the variant bits 10 the top two bits of c's first.
  const version = (b & 0xffff0fff) | 0x4000;
  const variant = (c & 0x3fffffff) | 0x80000000;
  return `${hex8(mix32(id ^ salt))}-${hex4(version >>> 16)}-${hex4(version & 0xffff)}-${hex4(variant >>> 16)}-${hex4(variant & 0xffff)}${hex8(hash2(b, 2))}`;
}
