import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { InterruptedError } from '../../errors.js';
import type { CollectStore } from '../../store/collect-store.js';
import type { ShardEntry } from '../../store/store-manifest.js';
import { describeReplacedValue, type ReplacedValues, type SinkContext } from '../sink.js';
import { copyRowsSource, CopyLines, STAGING_COLUMN_LIST } from './copy-rows.js';
import { reportCounts, summarise, type PostgresSinkResult, type ShardChanges } from './counts.js';
import { takeExportLock } from './export-lock.js';
import { missingPartitionError, planHistory, recordSnapshot, type HistoryPlan, type HistoryRecording } from './history.js';
import { completeTypes, createStaging, mergeStaged, STAGING, type MergeResult } from './merge.js';
import { damagedStoreError, interruptedError, pgErrorOf } from './pg-errors.js';
import type { SinkPool } from './pool.js';
import { recordFailedRun, recordSucceededRun, type ExportRun } from './run-records.js';
import type { TableRefs } from './schema.js';
import { storedShards } from './stored-shards.js';

/** SQLSTATEs after which the whole export is retried once. */
const RETRYABLE = new Set(['40001', '40P01']);

interface ApplyCounts extends ShardChanges {
  rows: number;
  /** Rows sent to the database: the rows of every shard whose stored rows did not already match. */
  staged: number;
  /** Values sent with U+FFFD in place of NUL. */
  replaced: ReplacedValues;
}

/**
 * Exports the store in one transaction (the steps are in postgres-sink.ts), retried once after a
 * serialization failure or a deadlock; a failed export is recorded in the runs table.
 */
export async function applyStore(sinkPool: SinkPool, refs: TableRefs, store: CollectStore, ctx: SinkContext): Promise<PostgresSinkResult> {
  const { config } = sinkPool;
  const began = Date.now();
  const exportRun: ExportRun = { runs: refs.runs, cluster: store.cluster, startedAt: ctx.now() };
  const pool = await sinkPool.open('export', ctx.signal);
  for (let attempt = 1; ; attempt++) {
    const state = { connected: false };
    try {
      const counts = await applyOnce(sinkPool, refs, store, ctx, exportRun, state);
      const result: PostgresSinkResult = {
        ...reportCounts({ sink: config.name, type: 'postgres', unit: 'rows', totals: counts.totals, shards: counts.shards }, refs.itemsLabel),
        staged: counts.staged,
        replaced: counts.replaced,
        durationMs: Date.now() - began,
      };
      ctx.log.info('postgres export committed', {
        sink: config.name,
        table: refs.itemsLabel,
        cluster: store.cluster,
        rows: counts.rows,
        staged: counts.staged,
        inserted: counts.totals.added,
        updated: counts.totals.changed,
        unchanged: counts.totals.unchanged,
        deleted: counts.totals.removed,
        durationMs: result.durationMs,
      });
      if (counts.replaced.count > 0) {
        ctx.log.warn(
          'values held NUL (U+0000) or a lone surrogate, which PostgreSQL text and jsonb cannot store: stored with U+FFFD in its place; the file and Git sinks keep them exact',
          {
            sink: config.name,
            table: refs.itemsLabel,
            cluster: store.cluster,
            replaced: counts.replaced.count,
            first: counts.replaced.first.map(describeReplacedValue),
          },
        );
      }
      return result;
    } catch (error) {
      if (error instanceof InterruptedError || ctx.signal.aborted) throw error instanceof InterruptedError ? error : interruptedError(config.name, 'export');
      const code = pgErrorOf(error)?.code;
      if (attempt === 1 && code && RETRYABLE.has(code)) {
        ctx.log.warn('export hit a serialization failure or deadlock; retrying once', { sink: config.name, sqlstate: code });
        continue;
      }
      const failure = sinkPool.sinkError(error, `export of cluster ${store.cluster} to ${refs.itemsLabel}`);
      if (state.connected) await recordFailedRun(pool, config, sinkPool.secrets, exportRun, failure, ctx.log);
      throw failure;
    }
  }
}

/** One attempt at the export: one transaction, committed or rolled back whole. */
async function applyOnce(
  sinkPool: SinkPool,
  refs: TableRefs,
  store: CollectStore,
  ctx: SinkContext,
  exportRun: ExportRun,
  state: { connected: boolean },
): Promise<ApplyCounts> {
  const { config } = sinkPool;
  const cluster = store.cluster;
  const tx = await sinkPool.transaction(ctx, 'export');
  const { client, run } = tx;
  state.connected = true;
  let committing = false;
  /** The transaction's now(): the rows' exported_at and the changes' changed_at. */
  let exportTime: string | undefined;
  try {
    await tx.begin('BEGIN');
    await takeExportLock(run, config, cluster, ctx);

    // Every row of the store is counted (copy-rows.ts: a second row of one key fails the export as
    // a damaged store); `sent` are those that go to the database.
    const staged = { perShard: new Map(store.shards.map((shard) => [shard.key, shard.rows])), total: store.manifest.totals.rows };
    let sent = staged.total;
    const replaced: ReplacedValues = { count: 0, first: [] };
    /** COPYs the store into `target` (a table and its column list), each line ending with `constants`. */
    const copyStore = async (target: string, constants: string[] = [], shards: readonly ShardEntry[] = store.shards): Promise<void> => {
      const copy = client.query(copyFrom(`COPY ${target} FROM STDIN`));
      const lines = new CopyLines();
      // pipeline() gives backpressure (the store is read as fast as the server takes it) and, on a
      // failing source or an abort, destroys the COPY stream, which sends CopyFail: the server
      // ends the COPY with an error and the transaction can only roll back.
      await pipeline(copyRowsSource(store, { constants, shards, lines, replaced }), copy, { signal: ctx.signal }).catch((error: unknown) => {
        throw damagedStoreError(store, lines, error) ?? error;
      });
      if (ctx.signal.aborted) throw interruptedError(config.name, 'export');
    };
    const { first, now } = (
      await run<{ first: boolean; now: string }>(`SELECT NOT EXISTS (SELECT 1 FROM ${refs.items} WHERE cluster = $1) AS first, now()::text AS now`, [cluster])
    ).rows[0]!;
    exportTime = now;
    // With history: the run's id, and whether the cluster's history starts here (its baseline).
    const history: HistoryPlan | undefined = refs.changes ? await planHistory(run, refs, cluster) : undefined;
    const recording: HistoryRecording | undefined = history && refs.changes ? { changes: refs.changes, runId: history.runId } : undefined;
    // Every object as an insert row: a baseline that asks for rows, or a first export (a COPY,
    // no diff) of a cluster whose history started before (all its rows were gone).
    const snapshot = recording !== undefined && (history?.baseline ? config.history !== false && config.history.baseline === 'rows' : first);
    let merged: MergeResult = { written: new Map(), deleted: new Map() };
    if (first) {
      // The cluster's first export: nothing to diff against and nothing to delete, so the rows
      // go straight into the table: a plain COPY, with no staging and no speculative insertion
      // to pay for. The lock keeps another run from racing it.
      await copyStore(`${refs.items} (${STAGING_COLUMN_LIST}, cluster, collected_at, exported_at)`, [cluster, store.manifest.collectedAt, now]);
      merged = { written: new Map([...staged.perShard].map(([shard, rows]) => [shard, { inserted: rows, updated: 0 }])), deleted: new Map() };
    } else {
      // Shards whose rows the table holds already, exactly (equal fingerprints): nothing of
      // them to stage, write or delete. The others are staged and merged.
      const stored = await storedShards(run, refs.items, cluster);
      const unchanged: ShardEntry[] = [];
      const changed: ShardEntry[] = [];
      for (const shard of store.shards) (stored.get(shard.key)?.fingerprint === shard.fingerprint ? unchanged : changed).push(shard);
      // A namespace of the cluster's stored rows that the store lacks may have rows to delete.
      const vanished = [...stored.keys()].some((key) => !store.shard(key));
      sent = changed.reduce((n, shard) => n + shard.rows, 0);
      ctx.log.debug('shards whose stored rows are unchanged are not staged', { sink: config.name, unchanged: unchanged.length, staged: changed.length });
      if (changed.length > 0 || vanished) {
        await createStaging(run);
        await copyStore(`${STAGING} (${STAGING_COLUMN_LIST})`, [], changed);
        const heldBefore = [...stored.values()].reduce((n, s) => n + s.rows, 0);
        merged = await mergeStaged(run, refs.items, {
          cluster,
          collectedAt: store.manifest.collectedAt,
          complete: completeTypes(store),
          staged: sent,
          unchanged,
          heldBefore,
          // A baseline records no diff: it is the run, or the rows of every object (below).
          ...(recording && !history?.baseline ? { history: recording } : {}),
        });
      }
    }
    if (snapshot) await recordSnapshot(run, refs, recording, cluster);
    const summary = summarise(staged.perShard, merged.written, merged.deleted);
    await recordSucceededRun(run, config, exportRun, staged.total, summary.totals, history);
    committing = true;
    // Once COMMIT has succeeded the export is committed, even if SIGTERM arrived meanwhile.
    await tx.commit();
    return { rows: staged.total, staged: sent, ...summary, replaced };
  } catch (error) {
    await tx.rollback();
    const brokenBy = tx.broken();
    if (ctx.signal.aborted) throw interruptedError(config.name, 'export');
    // A terminated backend sends its FATAL message before it closes: report that, not the
    // socket error (EPIPE) that a write racing the close may have raised here.
    const cause = pgErrorOf(brokenBy) ? brokenBy : error;
    const partition = missingPartitionError(config, cluster, pgErrorOf(cause), exportTime);
    if (partition) throw partition;
    const outcome =
      committing && brokenBy
        ? 'the connection broke during COMMIT, so the export may or may not be committed; the next run makes the table right either way'
        : 'the transaction was rolled back, nothing was written';
    throw sinkPool.sinkError(cause, `export of cluster ${cluster} to ${refs.itemsLabel}`, outcome);
  } finally {
    tx.release();
  }
}
