import type { Row } from '../rows/row.js';
import type { Queryable } from '../sinks/postgres/init-schema.js';
import { qualified } from '../sinks/postgres/sql-names.js';

/**
 * The questions `kollect changes` asks of the changes table (written by an export with
 * `history` on, one row per insert, update and delete), as SQL over one client. Values always
 * travel as bind parameters; table names come from config or flags, validated, and are quoted.
 */

/** The tables a question reads, unquoted as configured. */
export interface HistoryTables {
  schema: string;
  /** The current-state items table (for --as-of). */
  items: string;
  /** The runs table (where a baseline run marks the start of a cluster's history). */
  runs: string;
  /** The changes table. */
  changes: string;
}

/** An object as a change saw it, before or after. */
export interface ObjectImage {
  checksum: string | null;
  labels: Record<string, string> | null;
  attributes: Record<string, unknown> | null;
}

/** What names an object and its type, as a row has it. */
type ObjectIdentity = Pick<Row, 'kind' | 'apiGroup' | 'apiVersion' | 'resource' | 'name' | 'uid'>;

/** The columns of ObjectIdentity, named as its fields. */
const IDENTITY_COLUMNS = 'kind, api_group AS "apiGroup", api_version AS "apiVersion", resource, name, uid';

/** One row of the changes table. */
export interface ChangeRecord extends ObjectIdentity, Pick<Row, 'cluster' | 'namespace'> {
  /** When the export that saw the change ran (RFC 3339, UTC). */
  changedAt: string;
  operation: 'insert' | 'update' | 'delete';
  /** The run's id in the runs table. */
  runId: number;
  /** Null for an insert. */
  before: ObjectImage | null;
  /** Null for a delete. */
  after: ObjectImage | null;
  /** For an update, the label and attribute keys whose value changed (`labels.app`, `attributes.images`); else empty. */
  changedFields: string[];
}

/** Which changes to list: newest first, at most `limit`. */
export interface ChangeFilter {
  /** Changes at or after this time. */
  since: Date;
  /** Changes before this time (default: none). */
  until?: Date;
  cluster?: string;
  namespace?: string;
  /** A kind (`Pod`, any case) or a plural resource name (`pods`). */
  kind?: string;
  name?: string;
  limit: number;
}

/** A list cut at `limit`: `truncated` says that more matched. */
export interface Limited<T> {
  items: T[];
  truncated: boolean;
}

interface ChangeRow extends ObjectIdentity, Pick<ChangeRecord, 'cluster' | 'namespace' | 'operation'> {
  changed_at: Date;
  run_id: string;
  checksum_before: string | null;
  checksum_after: string | null;
  labels_before: Record<string, string> | null;
  labels_after: Record<string, string> | null;
  attributes_before: Record<string, unknown> | null;
  attributes_after: Record<string, unknown> | null;
}

/** SQL conditions and their parameters, numbered as they are added. */
class Conditions {
  readonly sql: string[] = [];
  readonly params: unknown[] = [];

  add(condition: (param: string) => string, value: unknown): void {
    if (value === undefined) return;
    this.params.push(value);
    this.sql.push(condition(`$${this.params.length}`));
  }

  /** The next free parameter, for a value that follows the conditions (a LIMIT). */
  next(value: unknown): string {
    this.params.push(value);
    return `$${this.params.length}`;
  }

  get where(): string {
    return this.sql.length > 0 ? `WHERE ${this.sql.join(' AND ')}` : '';
  }
}

/** `--kind Pod`, `--kind pod` and `--kind pods` name the same type. */
function addKindAndName(conditions: Conditions, filter: { kind?: string; name?: string }, alias = ''): void {
  conditions.add((p) => `(lower(${alias}kind) = lower(${p}) OR ${alias}resource = lower(${p}))`, filter.kind);
  conditions.add((p) => `${alias}name = ${p}`, filter.name);
}

/** Rows of `query`, at most `limit`, fetched as limit + 1 to tell whether more matched. */
async function limited<R extends object, T>(client: Queryable, query: string, params: unknown[], limit: number, map: (row: R) => T): Promise<Limited<T>> {
  const rows = (await client.query<R>(query, params)).rows;
  return { items: rows.slice(0, limit).map(map), truncated: rows.length > limit };
}

/** The changes that match `filter`, newest first (an operator asks "what changed lately?"). */
export function queryChanges(client: Queryable, tables: HistoryTables, filter: ChangeFilter): Promise<Limited<ChangeRecord>> {
  const conditions = new Conditions();
  conditions.add((p) => `changed_at >= ${p}`, filter.since);
  conditions.add((p) => `changed_at < ${p}`, filter.until);
  conditions.add((p) => `cluster = ${p}`, filter.cluster);
  conditions.add((p) => `namespace = ${p}`, filter.namespace);
  addKindAndName(conditions, filter);
  const limit = conditions.next(filter.limit + 1);
  return limited(
    client,
    `SELECT changed_at, cluster, namespace, ${IDENTITY_COLUMNS}, operation, run_id::text AS run_id,
            checksum_before, checksum_after, labels_before, labels_after, attributes_before, attributes_after
       FROM ${qualified(tables.schema, tables.changes)}
       ${conditions.where}
      ORDER BY changed_at DESC, cluster, namespace, kind, name, uid
      LIMIT ${limit}`,
    conditions.params,
    filter.limit,
    toChangeRecord,
  );
}

function toChangeRecord(row: ChangeRow): ChangeRecord {
  const before = row.operation === 'insert' ? null : { checksum: row.checksum_before, labels: row.labels_before, attributes: row.attributes_before };
  const after = row.operation === 'delete' ? null : { checksum: row.checksum_after, labels: row.labels_after, attributes: row.attributes_after };
  return {
    changedAt: row.changed_at.toISOString(),
    cluster: row.cluster,
    namespace: row.namespace,
    kind: row.kind,
    apiGroup: row.apiGroup,
    apiVersion: row.apiVersion,
    resource: row.resource,
    name: row.name,
    uid: row.uid,
    operation: row.operation,
    runId: Number(row.run_id),
    before,
    after,
    changedFields:
      before && after ? [...changedKeys('labels', before.labels, after.labels), ...changedKeys('attributes', before.attributes, after.attributes)] : [],
  };
}

/** `section.key` for each key whose value differs between two JSON objects (added and removed keys too). */
function changedKeys(section: string, before: Record<string, unknown> | null, after: Record<string, unknown> | null): string[] {
  const keys = new Set([...Object.keys(before ?? {}), ...Object.keys(after ?? {})]);
  return [...keys].filter((key) => JSON.stringify(before?.[key]) !== JSON.stringify(after?.[key])).map((key) => `${section}.${key}`);
}

/** An object of a namespace as it was at a time. */
export interface ObjectAsOf extends ObjectIdentity, Pick<Row, 'labels' | 'attributes' | 'checksum'> {
  /** The object's creationTimestamp (RFC 3339), when known. */
  createdAt: string | null;
  /** What became of it after the time asked for: nothing, changed (shown as it was before), or deleted (restored). */
  since: 'unchanged' | 'updated' | 'deleted';
}

/** Which namespace, when, and what of it to show. */
export interface AsOfQuery {
  cluster: string;
  namespace: string;
  asOf: Date;
  kind?: string;
  name?: string;
  limit: number;
}

interface AsOfRow extends Omit<ObjectAsOf, 'createdAt'> {
  created_at: Date | null;
}

/**
 * The namespace as it was at `asOf`, rebuilt backwards from the current rows and the changes
 * after `asOf`: an object's first change after that time decides. A first change that is an
 * insert means the object did not exist yet; an update or a delete carries the object as it was
 * (its before image). Objects with no change since are as they are now.
 */
export function queryNamespaceAsOf(client: Queryable, tables: HistoryTables, query: AsOfQuery): Promise<Limited<ObjectAsOf>> {
  const conditions = new Conditions();
  addKindAndName(conditions, query);
  const base = conditions.params.length;
  const [cluster, namespace, asOf] = [`$${base + 1}`, `$${base + 2}`, `$${base + 3}`];
  // Times travel to the millisecond, the server keeps microseconds: a change printed at .123Z
  // (stored at .123456) has happened as of .123Z.
  conditions.params.push(query.cluster, query.namespace, new Date(query.asOf.getTime() + 1));
  const limit = conditions.next(query.limit + 1);
  return limited(
    client,
    `WITH first_later_change AS (
       SELECT DISTINCT ON (name, uid) name, uid, operation, kind, api_group, api_version, resource,
              labels_before, attributes_before, checksum_before, created_at_before
         FROM ${qualified(tables.schema, tables.changes)}
        WHERE cluster = ${cluster} AND namespace = ${namespace} AND changed_at >= ${asOf}
        ORDER BY name, uid, changed_at, run_id
     )
     SELECT ${IDENTITY_COLUMNS}, labels, attributes, checksum, created_at, since FROM (
       SELECT i.kind, i.api_group, i.api_version, i.resource, i.name, i.uid, i.labels, i.attributes, i.checksum, i.created_at, 'unchanged' AS since
         FROM ${qualified(tables.schema, tables.items)} i
        WHERE i.cluster = ${cluster} AND i.namespace = ${namespace}
          AND NOT EXISTS (SELECT 1 FROM first_later_change c WHERE c.name = i.name AND c.uid = i.uid)
       UNION ALL
       SELECT kind, api_group, api_version, resource, name, uid, labels_before, attributes_before, checksum_before, created_at_before,
              CASE operation WHEN 'update' THEN 'updated' ELSE 'deleted' END
         FROM first_later_change
        WHERE operation <> 'insert'
     ) AS as_of
     ${conditions.where}
     ORDER BY kind, name, uid
     LIMIT ${limit}`,
    conditions.params,
    query.limit,
    ({ created_at, ...object }: AsOfRow) => ({ ...object, createdAt: created_at?.toISOString() ?? null }),
  );
}

/**
 * When the cluster's history starts: its first baseline run (a run that recorded no rows but
 * marks the state the changes after it start from), or its first recorded change (a baseline of
 * rows); null when nothing was ever recorded for the cluster.
 */
export async function historyStart(client: Queryable, tables: HistoryTables, cluster: string): Promise<Date | null> {
  const result = await client.query<{ start: Date | null }>(
    `SELECT least(
       (SELECT min(finished_at) FROM ${qualified(tables.schema, tables.runs)} WHERE cluster = $1 AND baseline AND status = 'succeeded'),
       (SELECT min(changed_at) FROM ${qualified(tables.schema, tables.changes)} WHERE cluster = $1)
     ) AS start`,
    [cluster],
  );
  return result.rows[0]?.start ?? null;
}
