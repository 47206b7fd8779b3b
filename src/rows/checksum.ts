import * as crypto from 'node:crypto';

/**
 * JSON with object keys sorted, so equal content always serializes to equal bytes. Used for
 * checksums and for every file kollect writes.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map((v) => (v === undefined ? 'null' : canonicalJson(v))).join(',')}]`;
  // One pass and one join: join gives a flat string, where appending would leave a rope of every
  // piece, several times larger, alive as long as the result is (a shard document holds thousands).
  const entries: string[] = [];
  for (const key of Object.keys(value).sort()) {
    const item = (value as Record<string, unknown>)[key];
    if (item !== undefined) entries.push(`${JSON.stringify(key)}:${canonicalJson(item)}`);
  }
  return `{${entries.join(',')}}`;
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
