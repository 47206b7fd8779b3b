import { canonicalJson } from '../rows/checksum.js';
import type { Row } from '../rows/row.js';

/**
 * The spool line: one row in a spool file of a collect store (format kollect.store/v3 and later).
 *
 * A line holds only what varies from row to row, in PostgreSQL's COPY text format
 * (https://www.postgresql.org/docs/current/sql-copy.html, "Text Format": fields separated by a
 * tab, `\N` for null, a backslash escaping `\\`, `\t`, `\n`, `\r`), in SPOOL_COLUMNS order:
 *
 *     name  uid  labels (JSON)  attributes (JSON)  checksum  resourceVersion  createdAt
 *
 * Since kollect.store/v5 labels and attributes are canonical JSON (canonicalJson: keys sorted), so
 * that shard documents copy them as they are (src/sinks/document/document-render.ts).
 *
 * What the rows of a segment share comes from the manifest: the cluster (the store's), the
 * namespace (the segment's shard) and the resource type (the spool file's). So the Postgres sink
 * streams spool files into COPY as they are, appending those constants to each line in one
 * native replace per chunk: an export uses about a third less CPU than when it parsed each row
 * and encoded it again (docs/store.md), and the database does the same work. The other sinks
 * read rows back with `parseSpoolLine`.
 */

/** The columns of a spool line, in order, as the Postgres sink's tables name them. */
export const SPOOL_COLUMNS = ['name', 'uid', 'labels', 'attributes', 'checksum', 'resource_version', 'created_at'] as const;

const NEEDS_ESCAPE = /[\\\t\n\r\0]/;
const ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r', '\0': '\\000' };

/**
 * One field in COPY text format: `\N` for null, else the value with `\ \t \n \r` escaped. A NUL
 * is written `\000`: it reads back as NUL, so the file and Git sinks keep it; PostgreSQL's text
 * types cannot hold one, and the Postgres sink replaces it on the way (replaceUnstorable in
 * src/sinks/postgres/copy-rows.ts).
 */
export function copyField(value: string | null): string {
  if (value === null) return '\\N';
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\\t\n\r\0]/g, (c) => ESCAPES[c]!);
}

/**
 * A string field as the row encoder has it at hand: the value and its JSON text. When JSON
 * escaped nothing (the text is the value in quotes), neither does COPY: JSON escapes the
 * backslash and every control character, COPY a subset of them.
 */
export function copyFieldOf(value: string, json: string): string {
  return json.length === value.length + 2 ? value : copyField(value);
}

/** A JSON text as a COPY field: it holds no control character, so only its backslashes (JSON's escapes) are doubled. */
export function copyJson(json: string): string {
  return json.includes('\\') ? json.replaceAll('\\', '\\\\') : json;
}

/** What a spool line does not hold: the same for every row of a segment. */
export interface SegmentContext {
  cluster: string;
  namespace: string;
  type: Pick<Row, 'apiGroup' | 'apiVersion' | 'kind' | 'resource'>;
}

/** The spool line of a row (without its newline). The collect hot path writes the same bytes (src/collect/row-encoder.ts). */
export function spoolLineOf(row: Row): string {
  return [
    copyField(row.name),
    copyField(row.uid),
    copyJson(canonicalJson(row.labels ?? {})),
    copyJson(canonicalJson(row.attributes ?? {})),
    copyField(row.checksum),
    copyField(row.resourceVersion ?? ''),
    copyField(row.createdAt ?? null),
  ].join('\t');
}

/**
 * The length of a row's JSON line (`JSON.stringify(row)` and its newline): shard sizes are
 * measured in these, the payload a namespace would be as one document, whatever the spool holds.
 */
export function jsonLineChars(row: Row): number {
  return JSON.stringify(row).length + 1;
}

/** Thrown for a line that is not a spool line. */
export class SpoolLineError extends Error {}

const UNESCAPES: Record<string, string> = { '\\': '\\', t: '\t', n: '\n', r: '\r', b: '\b', f: '\f', v: '\v' };

/** A COPY text field's value (null for `\N`). */
export function copyFieldValue(field: string): string | null {
  if (field === '\\N') return null;
  if (!field.includes('\\')) return field;
  return field.replace(/\\(?:([0-7]{1,3})|x([0-9a-fA-F]{1,2})|(.))/g, (_, octal: string | undefined, hex: string | undefined, other: string) =>
    octal !== undefined ? String.fromCharCode(parseInt(octal, 8)) : hex !== undefined ? String.fromCharCode(parseInt(hex, 16)) : (UNESCAPES[other] ?? other),
  );
}

/** A spool line (without its newline) as the row it stands for. */
export function parseSpoolLine(line: string, segment: SegmentContext): Row {
  const fields = line.split('\t');
  if (fields.length !== SPOOL_COLUMNS.length) throw new SpoolLineError(`a spool line has ${fields.length} fields, not ${SPOOL_COLUMNS.length}`);
  const [name, uid, labels, attributes, checksum, resourceVersion, createdAt] = fields.map(copyFieldValue) as Array<string | null>;
  if (name == null || uid == null || labels == null || attributes == null || checksum == null || resourceVersion == null) {
    throw new SpoolLineError('a spool line has \\N where only createdAt may be null');
  }
  // Keys in Row order, as the collector made the row.
  return {
    cluster: segment.cluster,
    namespace: segment.namespace,
    name,
    uid,
    apiGroup: segment.type.apiGroup,
    apiVersion: segment.type.apiVersion,
    kind: segment.type.kind,
    resource: segment.type.resource,
    labels: JSON.parse(labels) as Row['labels'],
    attributes: JSON.parse(attributes) as Row['attributes'],
    createdAt: createdAt ?? null,
    resourceVersion,
    checksum,
  };
}
