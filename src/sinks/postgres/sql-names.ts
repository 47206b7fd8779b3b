import { createHash } from 'node:crypto';

/**
 * SQL names kollect emits. Identifiers come from config, where they are validated as plain SQL
 * identifiers; they are nevertheless always quoted (`quoteIdent`), so a name is never interpreted
 * as SQL.
 */

/** Quotes one SQL identifier: `a"b` becomes `"a""b"`. Used for every identifier kollect emits. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error('an SQL identifier cannot contain NUL');
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a string literal for DDL text (values in statements always go through parameters). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('an SQL literal cannot contain NUL');
  return `'${value.replace(/'/g, "''")}'`;
}

/** `"schema"."name"`. */
export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** PostgreSQL's identifier limit (NAMEDATALEN - 1 bytes). */
const MAX_IDENT = 63;

/** A name derived from `base` plus a suffix, shortened so that it stays within 63 bytes. */
export function derivedName(base: string, suffix: string): string {
  const room = MAX_IDENT - Buffer.byteLength(suffix);
  let head = base;
  while (Buffer.byteLength(head) > room) head = head.slice(0, -1);
  if (head !== base) {
    // Keep derived names distinct when two long bases share a prefix.
    const tag = createHash('sha256').update(base).digest('hex').slice(0, 6);
    head = `${head.slice(0, Math.max(0, room - 7))}_${tag}`;
  }
  return `${head}${suffix}`;
}

/** A signed 64-bit advisory-lock key from a string (the first 8 bytes of its SHA-256). */
export function advisoryKey(text: string): string {
  return createHash('sha256').update(text).digest().readBigInt64BE(0).toString();
}
