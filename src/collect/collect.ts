import type { KollectConfig } from '../config/schema.js';
import { InterruptedError, KollectError, StoreWriteError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { discover, type DiscoveredType } from '../kube/discovery.js';
import type { RequestDeps, RetryInfo } from '../kube/request.js';
import { quoted } from '../format.js';
import type { Logger } from '../log.js';
import type { KollectMetrics } from '../metrics/metrics.js';
import { isMetadataOnly } from '../rows/profiles/profile.js';
import { resolveProfile } from '../rows/profiles/registry.js';
import { resourceTypeKey } from '../rows/row.js';
import type { StoreManifest, ResourceStatus } from '../store/store-manifest.js';
import { StoreWriter, type TypeSpool } from '../store/store-writer.js';
import { ListPool, listPoolSize } from './list-pool.js';
import { listRows, pageWork, type RefusedObject, type SpoolEvent } from './list-rows.js';

export interface CollectProgress {
  rows: number;
  typesDone: number;
  typesTotal: number;
}

export interface CollectDeps {
  /**
   * The API server's client, or the promise of it while the Kubernetes client library still
   * loads: list workers start first, so that their start-up runs meanwhile on another core.
   */
  client: KubeClient | Promise<KubeClient>;
  log: Logger;
  metrics: KollectMetrics;
  signal: AbortSignal;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
  onProgress?: (progress: CollectProgress) => void;
  /** A request is about to be retried (discovery or a list page): what a person waiting should see. */
  onRetry?: (retry: RetryInfo) => void;
}

export interface CollectResult {
  storeDir: string;
  manifest: StoreManifest;
  /** Types whose list did not complete, with why. */
  incomplete: ResourceStatus[];
  /** Lists that failed with an error (not 403): the run reports failure after exporting. */
  failedTypes: string[];
  durationMs: number;
}

/**
 * Runs `work` over `items` with at most `limit` at a time. The first error stops new work and is
 * thrown once the work in flight has settled, so that nothing still writes into a store that the
 * caller is about to remove.
 */
async function eachBounded<T>(items: readonly T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  });
  const outcomes = await Promise.allSettled(workers);
  const rejected = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
  if (rejected) throw rejected.reason;
}

/** Refused objects named in the log per type: a hostile server could send thousands. */
const REFUSED_NAMED = 5;

/** An object as it is named in messages: escaped, whatever the server sent. */
function describeRefused(refused: RefusedObject): string {
  return `${refused.namespace === '' ? '' : `namespace ${quoted(refused.namespace)} `}name ${quoted(refused.name)}`;
}

/**
 * True when no resource type was listed completely (every one forbidden, failed or with refused
 * objects): the run collected nothing an export can trust, and exits 1 even with every sink applied.
 */
export function noTypeListedCompletely(resources: readonly ResourceStatus[]): boolean {
  return resources.every((type) => !type.complete);
}

/**
 * Lists every configured resource type, projects each object into a row and spools the rows
 * into a new collect store, shard by shard. Memory is bounded by a few pages per type in flight
 * and the writer's buffers, whatever the size of the cluster. Pages are parsed and encoded in
 * list workers (`list.workers`) or on this thread; the store is the same byte for byte.
 *
 * A 403 marks the type incomplete with a warning; an error after retries marks it incomplete
 * and failed; both keep the other types going. An object whose namespace or name a real API
 * server would not serve (`../../x`) is refused, named in a warning, and its type is incomplete
 * like a 403's: a warning, not a failure (the rest is exported; nothing of the type is deleted;
 * kollect_collect_resource_complete says 0). SIGTERM aborts: the previous store stays whole.
 */
export async function collect(config: KollectConfig, deps: CollectDeps): Promise<CollectResult> {
  const { log, signal } = deps;
  const { workers, memoryWarning } = listPoolSize(config.list, config.resources.length);
  if (memoryWarning) log.warn(memoryWarning, { workers });
  // Workers start before the client is awaited: a worker's start-up (its modules, on another
  // core) overlaps loading the Kubernetes client and discovery, instead of delaying the first pages.
  const pool = workers > 0 ? new ListPool(workers, signal) : undefined;
  log.debug(`encoding pages ${pool ? `in ${workers} list workers` : 'on the main thread'}`, { workers });
  try {
    return await collectWith(config, { ...deps, client: await deps.client }, pool);
  } finally {
    await pool?.close();
  }
}

/** The collection proper, timed from its first request (discovery) to the store's manifest. */
async function collectWith(config: KollectConfig, deps: CollectDeps & { client: KubeClient }, pool: ListPool | undefined): Promise<CollectResult> {
  const started = Date.now();
  const { log, metrics, signal } = deps;
  // Discovery and every list share the clock and the abort signal; only what a retry is logged and counted as differs.
  const requestDeps = (onRetry: (retry: RetryInfo) => void): RequestDeps => ({
    sleep: deps.sleep,
    random: deps.random,
    signal,
    onRetry: (retry) => {
      onRetry(retry);
      deps.onRetry?.(retry);
    },
  });
  const types = await discover(
    deps.client,
    config.resources,
    config.list,
    requestDeps((retry) => log.debug('retrying discovery request', { ...retry })),
  );
  const writer = await StoreWriter.create(config.store.dir, config.cluster);
  const failedTypes: string[] = [];
  let rows = 0;
  let typesDone = 0;
  const progress = (): void => deps.onProgress?.({ rows, typesDone, typesTotal: types.length });

  const listType = async (type: DiscoveredType): Promise<void> => {
    const configured = config.resources.find((r) => r.group === type.group && r.resource === type.resource);
    const profile = resolveProfile({ ...type, profile: configured?.profile }, config.profiles);
    const metadataOnly = isMetadataOnly(profile);
    const key = resourceTypeKey(type);
    const spool: TypeSpool = writer.spool({
      group: type.group,
      version: type.version,
      resource: type.resource,
      kind: type.kind,
      namespaced: type.namespaced,
      profile: profile.name,
      metadataOnly,
    });
    const listDeps = requestDeps((retry) => {
      metrics.listRetries.inc({ cluster: config.cluster, resource: key, kind: 'retry' });
      log.debug('retrying list page', { resource: key, ...retry });
    });
    // The same events either way: pages parsed and encoded in list workers, or here.
    const encode = pool ? pool.encoder(config.cluster, type, profile, config.list.fastParse) : pageWork(config.cluster, type, profile, config.list.fastParse);
    const events: AsyncIterable<SpoolEvent> = listRows(deps.client, type, { ...config.list, metadataOnly }, listDeps, encode, pool?.pagesInFlight ?? 1);
    let typeRows = 0;
    let refused = 0;
    let named = 0;
    const markIncomplete = async (reason: 'forbidden' | 'error' | 'invalid-object', message: string): Promise<void> => {
      metrics.incompleteResources.inc({ cluster: config.cluster, resource: key, reason });
      metrics.resourceComplete.set({ cluster: config.cluster, resource: key, reason }, 0);
      await spool.incomplete(reason, message);
    };
    try {
      for await (const event of events) {
        if (event.kind === 'page') {
          await spool.addPage(event.page);
          typeRows += event.rows;
          rows += event.rows;
          refused += event.refused.length;
          for (const object of event.refused.slice(0, REFUSED_NAMED - named)) {
            named++;
            log.warn(`refused an object of ${key}: ${describeRefused(object)}: ${object.reason}; ${key} is incomplete: no export deletes its rows`, {
              resource: key,
            });
          }
          progress();
        } else if (event.kind === 'restart') {
          // The continue token expired: the list starts over, so what this attempt spooled goes.
          metrics.listRetries.inc({ cluster: config.cluster, resource: key, kind: 'relist' });
          log.warn('continue token expired; relisting from the start', { resource: key, reason: event.reason });
          rows -= typeRows;
          typeRows = 0;
          refused = 0;
          await spool.reset();
        } else {
          log.warn(`forbidden to list ${key}; it is incomplete: no export deletes its rows that were not listed`, { resource: key, message: event.message });
          await markIncomplete('forbidden', event.message);
          return;
        }
      }
      if (refused > 0) {
        await markIncomplete('invalid-object', `refused ${refused} objects whose namespace, name or creationTimestamp no real API server serves`);
        return;
      }
      await spool.complete();
      metrics.collectItems.inc({ cluster: config.cluster, resource: key }, typeRows);
      metrics.resourceComplete.set({ cluster: config.cluster, resource: key, reason: '' }, 1);
    } catch (error) {
      if (signal.aborted) throw new InterruptedError('collection interrupted', { resource: key }, { cause: error });
      // A list's failure marks its type incomplete; a store that cannot be written ends the run.
      if (!(error instanceof KollectError) || error instanceof StoreWriteError) throw error;
      log.error(`listing ${key} failed; it is incomplete: no export deletes its rows that were not listed`, {
        resource: key,
        code: error.code,
        message: error.message,
      });
      failedTypes.push(key);
      await markIncomplete('error', error.message);
    } finally {
      typesDone++;
      progress();
    }
  };

  try {
    await eachBounded(types, config.list.concurrency, listType);
    if (signal.aborted) throw new InterruptedError('collection interrupted');
    const manifest = await writer.finish();
    if (noTypeListedCompletely(manifest.resources)) {
      const why = manifest.resources.map((type) => `${resourceTypeKey(type)} (${type.reason ?? 'incomplete'})`).join(', ');
      const rbac = manifest.resources.some((type) => type.reason === 'forbidden')
        ? "; a forbidden type needs get and list in the ClusterRole of kollect's ServiceAccount"
        : '';
      log.error(`no resource type was listed completely, the run fails: ${why}${rbac}`);
    }
    const durationMs = Date.now() - started;
    metrics.collectDuration.set({ cluster: config.cluster }, durationMs / 1000);
    return {
      storeDir: writer.dir,
      manifest,
      incomplete: manifest.resources.filter((r) => !r.complete),
      failedTypes,
      durationMs,
    };
  } catch (error) {
    await writer.abort();
    throw error;
  }
}
