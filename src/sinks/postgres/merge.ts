import { namespaceOfShard, shardKeyOf } from '../../rows/row.js';
import type { CollectStore } from '../../store/collect-store.js';
import type { ShardEntry } from '../../store/store-manifest.js';
import { STAGING_COLUMNS } from './copy-rows.js';
import { CHANGE_COLUMNS, type HistoryRecording } from './history.js';
import { ITEM_COLUMNS, KEY_COLUMNS } from './schema.js';
import type { Run } from './transaction.js';

/**
 * The staging table an export COPYs its changed shards into, and the merge of it into the items
 * table: upsert what is new or changed, delete what is gone.
 */

/** The staging table: temporary, so it lives in the export's session and goes with its transaction. */
export const STAGING = 'pg_temp.kollect_staging';

/** The upsert's SET list: every column but the key. */
const UPDATE_SET = ITEM_COLUMNS.filter((c) => !(KEY_COLUMNS as readonly string[]).includes(c))
  .map((c) => `${c} = EXCLUDED.${c}`)
  .join(', ');

/** Creates the staging table for this transaction (ON COMMIT DROP, not WAL-logged, no index). */
export async function createStaging(run: Run): Promise<void> {
  await run(
    `CREATE TEMP TABLE kollect_staging (${Object.entries(STAGING_COLUMNS)
      .map(([c, type]) => `${c} ${type}`)
      .join(', ')}) ON COMMIT DROP`,
  );
}

/** Resource types listed completely (as two parallel lists, for unnest): only their absent rows may be deleted. */
export interface CompleteTypes {
  groups: string[];
  resources: string[];
}

/** The store's resource types listed completely. */
export function completeTypes(store: Pick<CollectStore, 'resources'>): CompleteTypes {
  const complete = store.resources.filter((r) => r.complete);
  return { groups: complete.map((r) => r.group), resources: complete.map((r) => r.resource) };
}

/** What the merge needs to know of the export beside the staging table. */
export interface MergeInput {
  cluster: string;
  /** When the store was collected: the rows' collected_at. */
  collectedAt: string;
  complete: CompleteTypes;
  /** How many rows were staged. */
  staged: number;
  /** Shards left out of staging because the table holds their rows exactly: nothing of them is deleted. */
  unchanged: readonly Pick<ShardEntry, 'key' | 'rows'>[];
  /** How many rows the cluster had in the table before. */
  heldBefore: number;
  /** Record each insert, update and delete in this changes table. */
  history?: HistoryRecording;
}

/** Per shard, what a merge inserted and updated, and what it deleted. */
export interface MergeResult {
  written: Map<string, { inserted: number; updated: number }>;
  deleted: Map<string, number>;
}

/**
 * Merges the staging table into the items table `items`: upserts the staged rows that are new or
 * changed, deletes the cluster's rows of completely listed types that were not staged (outside
 * the shards left out as unchanged). With `history`, the same statements write one changes row
 * per row they insert, update or delete: for the diff's rows, their staged values and the stored
 * row's before image, each fetched by its ctid (the stored tuple as the statement's snapshot sees
 * it, before the upsert rewrites it), and what the delete returns. The diff itself stays narrow:
 * carrying the images there, or joining them back by key, puts every stored row's labels and
 * attributes into a hash table (bench:pg (j): 1.33x (d) instead of at most 1.15x). So each is a
 * LATERAL subquery that OFFSET 0 keeps from being flattened into a join: one TID scan per changed
 * row, whatever the statistics say. The stored ctid goes with the cluster: a table partitioned by
 * cluster repeats ctids across partitions.
 */
export async function mergeStaged(run: Run, items: string, merge: MergeInput): Promise<MergeResult> {
  const cluster = merge.cluster;
  // The diff (staged rows that are new or whose checksum changed) is computed once and kept
  // narrow: the staged row's ctid, its namespace and whether it is new. The upsert fetches
  // those rows back by ctid (a TID scan: nothing when nothing changed), and the counts come
  // from the diff, because RETURNING cannot tell an insert from an update on a partitioned
  // table (xmax is a system column, refused there). The advisory lock keeps the diff true.
  // Its join needs no pinning: staging is the outer side, so a nested loop there probes the
  // primary key once per staged row, and stored rows estimated at a row or so get hashed
  // (test/sinks/postgres/plans.test.ts checks both statements' plans).
  const history = merge.history;
  const upsert = await run<{ namespace: string; inserted: string; updated: string }>(
    `WITH diff AS MATERIALIZED (
       SELECT s.ctid AS staged, s.namespace, cur.uid IS NULL AS new${history ? ', cur.ctid AS stored' : ''}
         FROM ${STAGING} s
         LEFT JOIN ${items} cur ON cur.cluster = $1 AND cur.namespace = s.namespace AND cur.name = s.name AND cur.uid = s.uid
        WHERE cur.uid IS NULL OR cur.checksum IS DISTINCT FROM s.checksum
     ), written AS (
       INSERT INTO ${items} AS t (${ITEM_COLUMNS.join(', ')})
       SELECT $1, s.namespace, s.name, s.uid, s.api_group, s.api_version, s.kind, s.resource, s.labels, s.attributes, s.checksum, s.resource_version, s.created_at, $2::timestamptz, now()
         FROM ${STAGING} s
        WHERE s.ctid = ANY (ARRAY(SELECT staged FROM diff))
       ON CONFLICT (${KEY_COLUMNS.join(', ')}) DO UPDATE SET ${UPDATE_SET}
        WHERE t.checksum IS DISTINCT FROM EXCLUDED.checksum
     )${
       history
         ? `, recorded AS (
       INSERT INTO ${history.changes} (${CHANGE_COLUMNS})
       SELECT $1, s.namespace, s.name, s.uid, s.api_group, s.api_version, s.kind, s.resource, CASE WHEN d.new THEN 'insert' ELSE 'update' END, now(), $3,
              cur.checksum, s.checksum, cur.labels, s.labels, cur.attributes, s.attributes, cur.created_at
         FROM diff d
         CROSS JOIN LATERAL (SELECT * FROM ${STAGING} x WHERE x.ctid = d.staged OFFSET 0) s
         LEFT JOIN LATERAL (SELECT * FROM ${items} i WHERE i.ctid = d.stored AND i.cluster = $1 OFFSET 0) cur ON true
     )`
         : ''
     }
     SELECT namespace, count(*) FILTER (WHERE new) AS inserted, count(*) FILTER (WHERE NOT new) AS updated
       FROM diff GROUP BY namespace`,
    history ? [cluster, merge.collectedAt, history.runId] : [cluster, merge.collectedAt],
  );
  const written = new Map(upsert.rows.map((r) => [shardKeyOf(r.namespace), { inserted: Number(r.inserted), updated: Number(r.updated) }]));

  const deleted = new Map<string, number>();
  const types = merge.complete;
  // Every staged key is in the table now, and every row of the unchanged shards was there
  // already. When the cluster holds no more rows than those, none is absent from the store, and
  // the anti-join (every row of the cluster against staging: about as costly as the upsert's
  // join) is skipped. With no completely listed type nothing may be deleted, and nothing is counted.
  const held = merge.heldBefore + [...written.values()].reduce((n, w) => n + w.inserted, 0);
  const unchangedRows = merge.unchanged.reduce((n, shard) => n + shard.rows, 0);
  if (types.groups.length > 0 && held > merge.staged + unchangedRows) {
    // No nested loop for the anti-join, whatever the statistics say. A cluster's rows that
    // autovacuum has not analysed yet (a table loaded in this run, a cluster new to the table)
    // are estimated at a row or so; PostgreSQL 15 and older then loop over the staging table,
    // which has no index, once per stored row (docs/benchmarks.md, bench:pg case g). A hash
    // anti-join is linear whatever the counts; ANALYZE of the shared table would cost more
    // than this export and still miss a cluster whose rows its sample did not hold.
    await run('SET LOCAL enable_nestloop = off');
    const gone = await run<{ namespace: string; deleted: string }>(
      `WITH gone AS (
         DELETE FROM ${items} t
          WHERE t.cluster = $1
            AND (t.api_group, t.resource) IN (SELECT g, r FROM unnest($2::text[], $3::text[]) AS complete(g, r))
            AND t.namespace <> ALL ($4::text[])
            AND NOT EXISTS (SELECT 1 FROM ${STAGING} s WHERE s.namespace = t.namespace AND s.name = t.name AND s.uid = t.uid)
         RETURNING t.namespace${history ? ', t.name, t.uid, t.api_group, t.api_version, t.kind, t.resource, t.checksum, t.labels, t.attributes, t.created_at' : ''}
       )${
         history
           ? `, recorded AS (
         INSERT INTO ${history.changes} (${CHANGE_COLUMNS})
         SELECT $1, namespace, name, uid, api_group, api_version, kind, resource, 'delete', now(), $5, checksum, NULL, labels, NULL, attributes, NULL, created_at
           FROM gone
       )`
           : ''
       }
       SELECT namespace, count(*) AS deleted FROM gone GROUP BY namespace`,
      [cluster, types.groups, types.resources, merge.unchanged.map((shard) => namespaceOfShard(shard.key)), ...(history ? [history.runId] : [])],
    );
    for (const r of gone.rows) deleted.set(shardKeyOf(r.namespace), Number(r.deleted));
  }
  return { written, deleted };
}
