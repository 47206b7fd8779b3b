import type { KollectConfig } from '../config/schema.js';
import { InterruptedError, KollectError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { discover, type DiscoveredType } from '../kube/discovery.js';
import { listPages } from '../kube/pager.js';
import type { RetryInfo } from '../kube/request.js';
import type { Logger } from '../log.js';
import type { KollectMetrics } from '../metrics/metrics.js';
import { createProjector, type Projector } from '../rows/project.js';
import { isMetadataOnly } from '../rows/profiles/profile.js';
import { resolveProfile } from '../rows/profiles/registry.js';
import { resourceTypeKey, type Row } from '../rows/row.js';
import type { Manifest, ResourceStatus } from '../store/manifest.js';
import { StoreWriter, type TypeSpool } from '../store/store-writer.js';

export interface CollectProgress {
  rows: number;
  typesDone: number;
  typesTotal: number;
}

export interface CollectDeps {
  client: KubeClient;
  log: Logger;
  metrics: KollectMetrics;
  signal: AbortSignal;
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
  onProgress?: (progress: CollectProgress) => void;
}

export interface CollectResult {
  storeDir: string;
  manifest: Manifest;
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

/**
 * Lists every configured resource type, projects each object into a row and spools the rows
 * into a new collect store, shard by shard. Memory is bounded by a page per type in flight and
 * the writer's buffers, whatever the size of the cluster.
 *
 * A 403 marks the type incomplete with a warning; an error after retries marks it incomplete
 * and failed; both keep the other types going. SIGTERM aborts: the previous store stays whole.
 */
export async function collect(config: KollectConfig, deps: CollectDeps): Promise<CollectResult> {
  const started = Date.now();
  const { log, metrics, signal } = deps;
  const policy = { retries: config.list.retries, timeoutMs: config.list.timeout };
  const requestDeps = {
    sleep: deps.sleep,
    random: deps.random,
    signal,
    onRetry: (retry: RetryInfo) => log.debug('retrying discovery request', { ...retry }),
  };
  const types = await discover(deps.client, config.resources, policy, requestDeps);
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
    const project: Projector = createProjector(config.cluster, type, profile);
    let typeRows = 0;
    try {
      for await (const event of listPages(deps.client, type, { ...config.list, metadataOnly }, {
        sleep: deps.sleep,
        random: deps.random,
        signal,
        onRetry: (retry) => {
          metrics.listRetries.inc({ cluster: config.cluster, resource: key, kind: 'retry' });
          log.debug('retrying list page', { resource: key, ...retry });
        },
      })) {
        if (event.kind === 'page') {
          const page: Row[] = event.items.map(project);
          await spool.addRows(page);
          typeRows += page.length;
          rows += page.length;
          progress();
        } else if (event.kind === 'restart') {
          // The continue token expired: the list starts over, so what this attempt spooled goes.
          metrics.listRetries.inc({ cluster: config.cluster, resource: key, kind: 'relist' });
          log.warn('continue token expired; relisting from the start', { resource: key, reason: event.reason });
          rows -= typeRows;
          typeRows = 0;
          await spool.reset();
        } else {
          metrics.incompleteResources.inc({ cluster: config.cluster, resource: key, reason: 'forbidden' });
          log.warn(`forbidden to list ${key}; its rows are kept as they are in every sink`, { resource: key, message: event.message });
          await spool.incomplete('forbidden', event.message);
          return;
        }
      }
      await spool.complete();
      metrics.collectItems.inc({ cluster: config.cluster, resource: key }, typeRows);
    } catch (error) {
      if (signal.aborted) throw new InterruptedError('collection interrupted', { resource: key }, { cause: error });
      if (!(error instanceof KollectError)) throw error;
      metrics.incompleteResources.inc({ cluster: config.cluster, resource: key, reason: 'error' });
      log.error(`listing ${key} failed; its rows are kept as they are in every sink`, { resource: key, code: error.code, message: error.message });
      failedTypes.push(key);
      await spool.incomplete('error', error.message);
    } finally {
      typesDone++;
      progress();
    }
  };

  try {
    await eachBounded(types, config.list.concurrency, listType);
    if (signal.aborted) throw new InterruptedError('collection interrupted');
    const manifest = await writer.finish();
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
