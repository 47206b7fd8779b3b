import * as crypto from 'node:crypto';

/**
 * JSON with object keys sorted, so equal content always serializes to equal bytes. Used for
 * checksums and for every file kollect writes. For JSON data (what JSON.parse gives: no
 * functions, Dates or other toJSON values).
 */
export function canonicalJson(value: unknown): string {
  // The native serializer is several times faster, and most data (rows read back from the
  // store, the API server's maps) comes with its keys sorted already.
  return isCanonical(value) ? (JSON.stringify(value) ?? 'null') : sortedJson(value);
}

function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  // One pass and one join: join gives a flat string, where appending would leave a rope of every
  // piece, several times larger, alive as long as the result is (a shard document holds thousands).
  const entries: string[] = [];
  for (const key of Object.keys(value as object).sort()) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined) entries.push(`${JSON.stringify(key)}:${canonicalJson(item)}`);
  }
  return `{${entries.join(',')}}`;
}

/**
 * True when `JSON.stringify(value)` already is `canonicalJson(value)`: every object's keys come
 * in sorted order (Object.keys order, which JSON.stringify follows, integer-like keys first).
 */
export function isCanonical(value: unknown): boolean {
  if (value === null || typeof value !== 'object') return true;
  if (Array.isArray(value)) {
    for (const item of value) if (!isCanonical(item)) return false;
    return true;
  }
  let previous: string | undefined;
  for (const key in value) {
    if (previous !== undefined && !(previous < key)) return false;
    if (!isCanonical((value as Record<string, unknown>)[key])) return false;
    previous = key;
  }
  return true;
}

/**
 * 128-bit hex digest: plenty to tell rows apart, half the bytes of a full SHA-256 in the table.
 * Node's one-shot hash where it has one (20.12 and later) costs half as much per row as a Hash
 * object; the collect hot path calls this once per object.
 */
export const digest: (text: string) => string =
  typeof crypto.hash === 'function'
    ? (text) => crypto.hash('sha256', text, 'hex').slice(0, 32)
    : (text) => crypto.createHash('sha256').update(text).digest('hex').slice(0, 32);
