import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { KollectConfig } from './config/schema.js';
import { UsageError } from './errors.js';
import type { Logger } from './log.js';
import type { KollectMetrics } from './metrics/metrics.js';
import { resourceTypeKey } from './rows/row.js';
import { formatBytes, formatCount } from './format.js';
import { shardStatus, statusReason, type ShardStatus } from './shards/shard-status.js';
import { createSink } from './sinks/registry.js';
import { runSinks, type SinkOutcome } from './sinks/run-sinks.js';
import { CollectStore } from './store/collect-store.js';
import type { ResourceStatus, StoreManifest } from './store/store-manifest.js';
import { withStoreLock } from './store/store-lock.js';
import { checkStoreTarget } from './store/store-target.js';
import { collect, noTypeListedCompletely, type CollectDeps } from './collect/collect.js';

export interface ShardWarning {
  shard: string;
  rows: number;
  bytes: number;
  status: ShardStatus;
  /** What put the shard at its status, rows or bytes: `1.30 MiB (warn at 1.20 MiB)`. */
  reason: string;
}

/** What a collect or export run did, for printing and for `--output json`. */
export interface RunResult {
  cluster: string;
  dryRun: boolean;
  /** `kept: false`: a dry run's fresh collection, spooled to a temporary folder and removed. */
  store: { dir: string; kept: boolean; collectedAt: string; rows: number; bytes: number; shards: number };
  /** Present when this run listed the cluster (not when exporting a saved store). */
  collection?: { durationMs: number; resources: ResourceStatus[]; failedTypes: string[] };
  /** Resource types whose list did not complete (with `incompleteNamespaces`: only in those namespaces). */
  incomplete: Array<Pick<ResourceStatus, 'group' | 'resource' | 'reason' | 'message' | 'incompleteNamespaces'>>;
  /** Configured optional types the cluster does not serve, and group versions whose discovery failed (nothing of them deleted). */
  discovery: Pick<StoreManifest, 'notServed' | 'discoveryFailed'>;
  /** Shards at or past the ExportShardWarning line. */
  shardWarnings: ShardWarning[];
  sinks: SinkOutcome[];
  /** False when a sink failed, a list failed with an error, or no type was listed completely (a 403 alone is not a failure). */
  ok: boolean;
}

export interface RunOptions {
  config: KollectConfig;
  /** Export this saved store instead of collecting. */
  fromStore?: string;
  dryRun: boolean;
  force: boolean;
  deps: Omit<CollectDeps, 'client'> & { client?: CollectDeps['client']; now: () => Date };
}

function shardWarnings(store: CollectStore, config: KollectConfig, metrics: KollectMetrics, log: Logger): ShardWarning[] {
  const warnings: ShardWarning[] = [];
  // Zero when no shard warns: the run's metrics show 0, not no series.
  metrics.shardWarnings.inc({ cluster: store.cluster }, 0);
  for (const shard of store.shards) {
    const status = shardStatus(shard.rows, shard.bytes, config.shards);
    if (status === 'ok') continue;
    const reason = statusReason(shard.rows, shard.bytes, config.shards);
    warnings.push({ shard: shard.key, rows: shard.rows, bytes: shard.bytes, status, reason });
    metrics.shardWarnings.inc({ cluster: store.cluster });
    const limits = `${formatCount(config.shards.targetRows)} rows and ${formatBytes(config.shards.warnBytes)}`;
    log.warn(`ExportShardWarning: shard ${shard.key} is ${status}: it has ${reason}; keep shards under ${limits}`, {
      shard: shard.key,
      rows: shard.rows,
      bytes: shard.bytes,
      status,
    });
  }
  return warnings;
}

/**
 * `kollect collect` and `kollect export`: collect into the store (or open a saved one), then
 * export it to every configured sink, or plan each sink's changes on a dry run.
 */
export async function runExport(options: RunOptions): Promise<RunResult> {
  // A dry run writes nothing anywhere, the collect store included: a fresh collection goes to a
  // temporary folder, so the store a CronJob keeps (and `export --from` replays) stays as it was.
  const scratch = options.dryRun && options.fromStore === undefined ? await mkdtemp(join(tmpdir(), 'kollect-dry-run-')) : undefined;
  try {
    return await collectAndExport(
      scratch ? { ...options, config: { ...options.config, store: { ...options.config.store, dir: join(scratch, 'store') } } } : options,
      scratch === undefined,
    );
  } finally {
    if (scratch) await rm(scratch, { recursive: true, force: true });
  }
}

async function collectAndExport(options: RunOptions, kept: boolean): Promise<RunResult> {
  const { config, deps } = options;
  let collection: RunResult['collection'];
  let store: CollectStore;
  if (options.fromStore !== undefined) {
    // No lock: a reader reads only the store it opened, whatever a collect does meanwhile.
    store = await CollectStore.open(options.fromStore);
  } else {
    if (!deps.client) throw new Error('runExport needs a Kubernetes client to collect');
    const client = deps.client;
    // Before the lock and the first request: a collect replaces store.dir whole.
    await checkStoreTarget(config.store.dir);
    ({ collection, store } = await withStoreLock(config.store, deps, async () => {
      const collected = await collect(config, { ...deps, client });
      return {
        collection: { durationMs: collected.durationMs, resources: collected.manifest.resources, failedTypes: collected.failedTypes },
        store: await CollectStore.open(collected.storeDir),
      };
    }));
  }
  try {
    // Rows go out under the store's cluster, and metrics and locks under the config's: a store
    // of another cluster is a mistake to stop before any sink is touched, not to export quietly.
    if (store.cluster !== config.cluster) {
      throw new UsageError(
        `store ${store.dir} was collected for cluster "${store.cluster}", but the configuration's cluster is "${config.cluster}"; pass --cluster ${store.cluster} to export it as that cluster`,
        { store: store.dir, storeCluster: store.cluster, cluster: config.cluster },
      );
    }
    return await exportStore(store, collection, options, kept);
  } finally {
    await store.close();
  }
}

/** Exports an opened store to every configured sink (or plans each sink's changes on a dry run). */
async function exportStore(store: CollectStore, collection: RunResult['collection'], options: RunOptions, kept: boolean): Promise<RunResult> {
  const { config, deps } = options;
  for (const type of store.manifest.resources) deps.metrics.storeRows.set({ cluster: store.cluster, resource: resourceTypeKey(type) }, type.rows);
  const warnings = shardWarnings(store, config, deps.metrics, deps.log);
  const sinks = await Promise.all(config.sinks.map(createSink));
  const outcomes = await runSinks(store, sinks, {
    dryRun: options.dryRun,
    force: options.force,
    log: deps.log,
    metrics: deps.metrics,
    signal: deps.signal,
    now: deps.now,
  });
  const manifest = store.manifest;
  return {
    cluster: store.cluster,
    dryRun: options.dryRun,
    store: {
      dir: store.dir,
      kept,
      collectedAt: manifest.collectedAt,
      rows: manifest.totals.rows,
      bytes: manifest.totals.bytes,
      shards: manifest.shards.length,
    },
    ...(collection ? { collection } : {}),
    incomplete: store.incompleteResources().map(({ group, resource, reason, message, incompleteNamespaces }) => ({
      group,
      resource,
      reason,
      message,
      ...(incompleteNamespaces ? { incompleteNamespaces } : {}),
    })),
    discovery: { notServed: manifest.notServed, discoveryFailed: manifest.discoveryFailed },
    shardWarnings: warnings,
    sinks: outcomes,
    ok: outcomes.every((o) => o.ok) && (collection?.failedTypes.length ?? 0) === 0 && !(collection && noTypeListedCompletely(collection.resources)),
  };
}
