import { shardKeyOf } from '../../rows/row.js';
import type { CollectStore } from '../../store/collect-store.js';
import { emptyCounts, type ChangeCounts, type SinkContext } from '../sink.js';
import { keyInShard } from './copy-rows.js';
import { reportCounts, shardChanges, type PostgresSinkPlan } from './counts.js';
import { interruptedError } from './pg-errors.js';
import type { SinkPool } from './pool.js';
import type { TableRefs } from './schema.js';
import type { CancellableTransaction } from './transaction.js';

/** How many stored rows the plan's cursor fetches at a time. */
const FETCH_ROWS = 2000;

/**
 * Read-only: a READ ONLY, REPEATABLE READ transaction streams this cluster's stored keys and
 * checksums with a server-side cursor, ordered by namespace, and compares them with the store
 * one shard at a time. Memory holds one shard of the store, never the table.
 */
export async function planStore(sinkPool: SinkPool, refs: TableRefs, store: CollectStore, ctx: SinkContext): Promise<PostgresSinkPlan> {
  const { config } = sinkPool;
  await sinkPool.open('plan', ctx.signal);
  const cluster = store.cluster;
  const perShard = new Map<string, ChangeCounts>();
  const countsOf = (shard: string): ChangeCounts => {
    let c = perShard.get(shard);
    if (!c) {
      c = emptyCounts();
      perShard.set(shard, c);
    }
    return c;
  };
  /** A store shard's rows by key (first wins, like apply's de-duplication). */
  const loadShard = async (key: string): Promise<Map<string, string>> => {
    const rows = new Map<string, string>();
    if (!store.shard(key)) return rows;
    for await (const batch of store.readShardBatches(key)) {
      for (const row of batch) {
        const k = keyInShard(row);
        if (!rows.has(k)) rows.set(k, row.checksum);
      }
    }
    return rows;
  };
  const seenShards = new Set<string>();
  let current: { key: string; rows: Map<string, string> } | undefined;
  const finishShard = (): void => {
    if (current) countsOf(current.key).added += current.rows.size;
  };

  let tx: CancellableTransaction | undefined;
  try {
    tx = await sinkPool.transaction(ctx, 'plan');
    const { client } = tx;
    try {
      await tx.begin('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
      // The cursor is WITHOUT HOLD: it lives and dies with this transaction, on the one server
      // connection that PgBouncer's transaction pooling pins for it.
      await client.query(
        `DECLARE kollect_plan NO SCROLL CURSOR FOR
           SELECT namespace, name, uid, checksum, api_group, resource FROM ${refs.items} WHERE cluster = $1 ORDER BY namespace`,
        [cluster],
      );
      for (;;) {
        if (ctx.signal.aborted) throw interruptedError(config.name, 'plan');
        const batch = await client.query<{ namespace: string; name: string; uid: string; checksum: string; api_group: string; resource: string }>(
          `FETCH ${FETCH_ROWS} FROM kollect_plan`,
        );
        for (const stored of batch.rows) {
          const key = shardKeyOf(stored.namespace);
          if (current?.key !== key) {
            finishShard();
            seenShards.add(key);
            current = { key, rows: await loadShard(key) };
          }
          const checksum = current.rows.get(keyInShard(stored));
          if (checksum !== undefined) {
            if (checksum === stored.checksum) countsOf(key).unchanged++;
            else countsOf(key).changed++;
            current.rows.delete(keyInShard(stored));
          } else if (store.isComplete({ apiGroup: stored.api_group, resource: stored.resource, namespace: stored.namespace })) {
            countsOf(key).removed++;
          }
        }
        if (batch.rows.length < FETCH_ROWS) break;
      }
      finishShard();
      current = undefined;
      await tx.commit();
    } catch (error) {
      await tx.rollback();
      throw error;
    }
    for (const shard of store.shards) {
      if (seenShards.has(shard.key)) continue;
      if (ctx.signal.aborted) throw interruptedError(config.name, 'plan');
      countsOf(shard.key).added += (await loadShard(shard.key)).size;
    }
  } catch (error) {
    if (ctx.signal.aborted) throw interruptedError(config.name, 'plan');
    throw sinkPool.sinkError(error, `plan of cluster ${cluster} against ${refs.itemsLabel}`);
  } finally {
    tx?.release();
  }
  for (const shard of store.shards) countsOf(shard.key);
  // Like apply(): every shard of the store, plus shards of the table with something to delete.
  const { totals, shards } = shardChanges(
    [...perShard].filter(([shard, c]) => store.shard(shard) !== undefined || c.added + c.changed + c.removed + c.unchanged > 0),
  );
  return reportCounts({ sink: config.name, type: 'postgres', unit: 'rows', totals, shards }, refs.itemsLabel);
}
