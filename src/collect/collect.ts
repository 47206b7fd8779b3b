import { WILDCARD, type KollectConfig } from '../config/schema.js';
import { InterruptedError, KollectError, StoreWriteError } from '../errors.js';
import type { KubeClient } from '../kube/client.js';
import { discover, type DiscoveredType, type Discovery } from '../kube/discovery.js';
import { excludingSelector, isNamespaceScoped, scopedNamespaces, type ScopedNamespaces } from '../kube/namespace-scope.js';
import { andSelectors } from '../kube/selectors.js';
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
import { listRows, pageWork, type RefusedObject } from './list-rows.js';

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
 * True when no resource type was listed completely, not even in some namespaces (every one
 * forbidden, failed or with refused objects): the run collected nothing an export can trust, and exits 1 even with every sink applied.
 */
export function noTypeListedCompletely(resources: readonly ResourceStatus[]): boolean {
  return resources.every((type) => !type.complete && type.incompleteNamespaces === undefined);
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
  // A wildcard may resolve to many types: the pool is sized as if for as many as lists run at once.
  const types = config.resources.some((r) => r.resource === WILDCARD) ? config.list.concurrency : config.resources.length;
  const { workers, memoryWarning } = listPoolSize(config.list, types);
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

/** How a type is listed: cluster-wide (with the field selector that leaves out excluded namespaces), or namespace by namespace. */
async function listPlan(
  type: DiscoveredType,
  config: KollectConfig,
  scoped: () => Promise<ScopedNamespaces>,
): Promise<{ byNamespace: true } | { byNamespace: false; fieldSelector: string | undefined }> {
  const own = type.configured.fieldSelector;
  if (!type.namespaced || config.list.scope === 'cluster' || !isNamespaceScoped(config.namespaces)) {
    return config.list.scope === 'namespaces' && type.namespaced ? { byNamespace: true } : { byNamespace: false, fieldSelector: own };
  }
  if (config.list.scope === 'namespaces' || !config.namespaces.include.includes('*')) return { byNamespace: true };
  // Every namespace but some: one list, and the API server leaves the excluded ones out.
  const { excluded, unexpanded } = await scoped();
  if (unexpanded !== undefined && config.namespaces.exclude.some((p) => /[*?]/.test(p))) return { byNamespace: true };
  return { byNamespace: false, fieldSelector: andSelectors(own, excludingSelector(excluded)) };
}

/**
 * Logs and counts what discovery did not resolve, and returns the named, not optional types whose
 * group's discovery failed: they fail the run (exit 1) like a failed list, after the export.
 */
function reportDiscovery(config: KollectConfig, discovery: Discovery, log: Logger, metrics: KollectMetrics): string[] {
  for (const gone of discovery.notServed) {
    const key = resourceTypeKey(gone);
    log.info(`${key} is not served by this cluster (optional): skipped; rows of it that sinks hold are removed`, { resource: key });
    metrics.discoveryProblems.set({ cluster: config.cluster, resource: key, problem: 'not-served' }, 1);
  }
  const failedTypes: string[] = [];
  for (const failure of discovery.failed) {
    const key = resourceTypeKey({ group: failure.group, resource: '*' });
    log.warn(`${failure.message}; nothing of group ${failure.group || 'core'} is listed or deleted this run`, {
      group: failure.group,
      version: failure.version,
    });
    metrics.discoveryProblems.set({ cluster: config.cluster, resource: key, problem: 'failed' }, 1);
    for (const r of config.resources) {
      if (r.group === failure.group && r.resource !== WILDCARD && !r.optional) failedTypes.push(resourceTypeKey(r));
    }
  }
  return failedTypes;
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
  const discovery = await discover(
    deps.client,
    { resources: config.resources, exclude: config.exclude, maxTypes: config.list.maxTypes },
    config.list,
    requestDeps((retry) => log.debug('retrying discovery request', { ...retry })),
  );
  const types = discovery.types;
  const failedTypes = reportDiscovery(config, discovery, log, metrics);
  const writer = await StoreWriter.create(config.store.dir, config.cluster);
  let rows = 0;
  let typesDone = 0;
  const progress = (): void => deps.onProgress?.({ rows, typesDone, typesTotal: types.length });
  // Resolved once, when the first type is listed namespace by namespace.
  let namespaces: Promise<ScopedNamespaces> | undefined;
  const scopedOnce = (): Promise<ScopedNamespaces> =>
    (namespaces ??= scopedNamespaces(
      deps.client,
      config.namespaces,
      config.list,
      requestDeps(() => undefined),
    ));

  const listType = async (type: DiscoveredType): Promise<void> => {
    const profile = resolveProfile({ ...type, profile: type.configured.profile }, config.profiles);
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
    let typeRows = 0;
    let refused = 0;
    let named = 0;
    const markIncomplete = async (reason: 'forbidden' | 'error' | 'invalid-object', message: string, incompleteNamespaces?: string[]): Promise<void> => {
      metrics.incompleteResources.inc({ cluster: config.cluster, resource: key, reason });
      metrics.resourceComplete.set({ cluster: config.cluster, resource: key, reason }, 0);
      if (incompleteNamespaces) metrics.incompleteNamespaces.set({ cluster: config.cluster, resource: key }, incompleteNamespaces.length);
      await spool.incomplete(reason, message, incompleteNamespaces);
    };
    /** One list: cluster-wide, or of one namespace. Returns the server's message when it is forbidden. */
    const listOnce = async (namespace: string | undefined, fieldSelector: string | undefined): Promise<string | undefined> => {
      const options = { ...config.list, metadataOnly, namespace, labelSelector: type.configured.labelSelector, fieldSelector };
      let listed = 0;
      let listRefused = 0;
      for await (const event of listRows(deps.client, type, options, listDeps, encode, pool?.pagesInFlight ?? 1)) {
        if (event.kind === 'page') {
          await spool.addPage(event.page);
          listed += event.rows;
          typeRows += event.rows;
          rows += event.rows;
          listRefused += event.refused.length;
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
          log.warn('continue token expired; relisting from the start', { resource: key, reason: event.reason, ...(namespace ? { namespace } : {}) });
          rows -= listed;
          typeRows -= listed;
          refused -= listRefused;
          listed = 0;
          listRefused = 0;
          await (namespace === undefined ? spool.reset() : spool.resetShard(namespace));
        } else {
          return event.message;
        }
      }
      return undefined;
    };
    const finish = async (): Promise<void> => {
      if (refused > 0) {
        await markIncomplete('invalid-object', `refused ${refused} objects whose namespace, name or creationTimestamp no real API server serves`);
        return;
      }
      await spool.complete();
      metrics.collectItems.inc({ cluster: config.cluster, resource: key }, typeRows);
      metrics.resourceComplete.set({ cluster: config.cluster, resource: key, reason: '' }, 1);
    };
    const listByNamespace = async (): Promise<void> => {
      const scoped = await scopedOnce();
      const incomplete: string[] = [];
      let failed = false;
      for (const namespace of scoped.names) {
        try {
          const forbidden = await listOnce(namespace, type.configured.fieldSelector);
          if (forbidden === undefined) continue;
          log.warn(`forbidden to list ${key} in namespace ${quoted(namespace)}; no export deletes its rows there`, {
            resource: key,
            namespace,
            message: forbidden,
          });
          incomplete.push(namespace);
        } catch (error) {
          if (signal.aborted || !(error instanceof KollectError) || error instanceof StoreWriteError) throw error;
          log.error(`listing ${key} in namespace ${quoted(namespace)} failed; no export deletes its rows there`, {
            resource: key,
            namespace,
            code: error.code,
            message: error.message,
          });
          failed = true;
          incomplete.push(namespace);
        }
      }
      if (failed) failedTypes.push(key);
      const reason = failed ? 'error' : 'forbidden';
      if (scoped.unexpanded !== undefined) await markIncomplete('forbidden', scoped.unexpanded);
      // Not one namespace listed: nothing of the type is known, not even which rows are out of scope.
      else if (incomplete.length > 0 && incomplete.length === scoped.names.length) await markIncomplete(reason, 'the list of every namespace did not complete');
      else if (incomplete.length > 0) await markIncomplete(reason, `the lists of ${incomplete.length} namespaces did not complete`, incomplete);
      else await finish();
    };

    try {
      const plan = await listPlan(type, config, scopedOnce);
      if (plan.byNamespace) {
        await listByNamespace();
        return;
      }
      const forbidden = await listOnce(undefined, plan.fieldSelector);
      if (forbidden === undefined) {
        await finish();
      } else if (type.namespaced && config.list.scope === 'auto') {
        log.info(`forbidden to list ${key} cluster-wide; listing it namespace by namespace`, { resource: key, message: forbidden });
        await listByNamespace();
      } else {
        log.warn(`forbidden to list ${key}; it is incomplete: no export deletes its rows that were not listed`, { resource: key, message: forbidden });
        await markIncomplete('forbidden', forbidden);
      }
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
    const manifest = await writer.finish({
      scope: config.resources.map(({ group, resource }) => ({ group, resource })),
      notServed: discovery.notServed,
      discoveryFailed: discovery.failed,
    });
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
