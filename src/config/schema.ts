import * as z from 'zod/mini';
import { nonEmpty, positiveNumber, wholeNumber } from '../zod.js';
import { sinkConfig } from '../sinks/registry.js';
import { dnsLabel, duration } from './fields.js';
import { isValidAttributePath } from '../rows/attribute-path.js';
import { fieldSelectorProblem, labelSelectorProblem } from '../kube/selectors.js';

/**
 * The configuration file's schema. Every field has a default where the seed gives one, so a
 * minimal file names only the cluster and its sinks.
 */

export { sinkConfig };
export type { SinkConfig } from '../sinks/registry.js';
// Each sink's config lives in its folder; named here too, as the configuration's parts.
export type { FileSinkConfig } from '../sinks/file/config.js';
export type { GitSinkConfig } from '../sinks/git/config.js';
export type { PostgresSinkConfig } from '../sinks/postgres/config.js';

/** A JSON path into an object, dotted with optional [n] indexes: `spec.containers[0].image`. */
const attributePath = z
  .string()
  .check(z.refine(isValidAttributePath, 'must be a path such as spec.replicas, spec.containers[*].image or metadata.annotations["a/b"]'));

export const profileConfig = z.strictObject({
  /** Attribute name to JSON path into the object. */
  attributes: z._default(z.record(z.string().check(z.regex(/^[A-Za-z_][\w]*$/, 'attribute names are identifiers')), attributePath), {}),
});
export type ProfileConfig = z.infer<typeof profileConfig>;

/** Every group, or every resource of a group: resolved through discovery (src/kube/resolve-types.ts). */
export const WILDCARD = '*';

const labelSelector = z.string().check(z.superRefine(selectorCheck(labelSelectorProblem)));
const fieldSelector = z.string().check(z.superRefine(selectorCheck(fieldSelectorProblem)));

function selectorCheck(problem: (selector: string) => string | undefined) {
  return (value: string, ctx: z.core.$RefinementCtx<string>): void => {
    const why = problem(value);
    if (why !== undefined) ctx.addIssue({ code: 'custom', input: value, message: why });
  };
}

export const resourceConfig = z
  .strictObject({
    /** API group; '' (or omitted) for the core group; `*` for every group (with resource `*`). */
    group: z._default(
      z
        .string()
        .check(z.regex(/^(\*|[a-z0-9]([-a-z0-9.]*[a-z0-9])?)?$/, 'must be an API group such as apps or cert-manager.io, "" for the core group, or "*"')),
      '',
    ),
    /** Required for a named resource; a wildcard takes each group's preferred version unless one is named. */
    version: z.optional(nonEmpty()),
    /** Plural resource name as served, e.g. pods; `*` for every listable resource of the group. */
    resource: z.string().check(z.regex(/^(\*|[a-z0-9]([-a-z0-9]*[a-z0-9])?)$/, 'must be the plural resource name, e.g. pods, or "*"')),
    /** Built-in profile name or one defined under profiles; defaults to the built-in for the resource, else `metadata`. */
    profile: z.optional(z.string()),
    /** A type the cluster does not serve is skipped and reported as not served, not an error. */
    optional: z._default(z.boolean(), false),
    /** Applied by the API server: `app!=canary,tier in (web,api)`. */
    labelSelector: z.optional(labelSelector),
    /** Applied by the API server: `status.phase!=Succeeded`. */
    fieldSelector: z.optional(fieldSelector),
  })
  .check(
    z.refine((r) => r.resource === WILDCARD || r.version !== undefined, {
      path: ['version'],
      error: 'is required for a named resource (only resource "*" takes the preferred version)',
    }),
    z.refine((r) => r.group !== WILDCARD || r.resource === WILDCARD, { path: ['resource'], error: 'must be "*" when group is "*"' }),
    z.refine((r) => r.group !== WILDCARD || r.version === undefined, {
      path: ['version'],
      error: 'cannot be set with group "*": each group takes its preferred version',
    }),
  );
export type ResourceConfig = z.infer<typeof resourceConfig>;

export const DEFAULT_RESOURCES: Array<ResourceConfig & { version: string }> = [
  { group: '', version: 'v1', resource: 'namespaces', optional: false },
  { group: '', version: 'v1', resource: 'nodes', optional: false },
  { group: '', version: 'v1', resource: 'pods', optional: false },
  { group: '', version: 'v1', resource: 'services', optional: false },
  { group: '', version: 'v1', resource: 'configmaps', optional: false },
  { group: '', version: 'v1', resource: 'secrets', optional: false },
  { group: 'apps', version: 'v1', resource: 'deployments', optional: false },
];

export const shardThresholds = z
  .strictObject({
    /** ExportShardWarning at this many rows. */
    warnRows: z._default(positiveNumber(), 1800),
    /** Keep shards under this many rows. */
    targetRows: z._default(positiveNumber(), 2000),
    /** A monolithic payload fails with PayloadTooLarge above this many rows. */
    maxRows: z._default(positiveNumber(), 2500),
    /** Warn at this many bytes of rows. */
    warnBytes: z._default(positiveNumber(), 1_258_291),
    /** PayloadTooLarge above this many bytes (etcd's 1.5 MiB request limit). */
    maxBytes: z._default(positiveNumber(), 1_572_864),
  })
  .check(
    z.refine((t) => t.warnRows <= t.targetRows && t.targetRows <= t.maxRows, { message: 'must satisfy warnRows <= targetRows <= maxRows' }),
    z.refine((t) => t.warnBytes <= t.maxBytes, { message: 'must satisfy warnBytes <= maxBytes' }),
  );
export type ShardThresholds = z.infer<typeof shardThresholds>;

export const listSettings = z.strictObject({
  /** `limit` on every list call. */
  pageSize: z._default(wholeNumber(1, 10_000), 500),
  /** Resource types listed at once. */
  concurrency: z._default(wholeNumber(1, 64), 4),
  /** Retries of one page on 429, 5xx and dropped connections. */
  retries: z._default(wholeNumber(0, 20), 6),
  /** Relists of one type after its continue token expired (410). */
  relists: z._default(wholeNumber(0, 10), 3),
  /** Timeout of one page request. */
  timeout: z.prefault(duration, '60s'),
  /**
   * Threads that parse and project pages while the main thread fetches and spools: a number,
   * `auto` (cores - 1, at most 4, fewer under a container memory limit; none on one core), or 0
   * to do it all on the main thread. Never more than the list concurrency.
   */
  workers: z._default(z.union([z.literal('auto'), wholeNumber(0, 16)], { error: 'must be auto or a whole number of threads from 0 to 16' }), 'auto'),
  /**
   * Parse pages the fast way, which works on their text where that is proven to give the same
   * rows (src/kube/page/); false: `JSON.parse` of every page whole, for when a server's pages are
   * suspected of tripping the fast way. The rows are the same either way.
   */
  fastParse: z._default(z.boolean(), true),
  /**
   * How namespaced types are listed: `cluster`, one list per type; `namespaces`, one list per
   * included namespace (namespaced RBAC); `auto`, cluster-wide unless namespaces are scoped or
   * the cluster-wide list is forbidden (403), then namespace by namespace.
   */
  scope: z._default(z.enum(['auto', 'cluster', 'namespaces']), 'auto'),
  /** Most resource types a run lists, wildcards resolved: above it the run fails before listing. */
  maxTypes: z._default(wholeNumber(1, 10_000), 500),
});
export type ListSettings = z.infer<typeof listSettings>;

/** The collect store: where it is spooled, and how a run meets another on the same store. */
const storeSettings = z.strictObject({
  /** Where the collect store is spooled; replaced whole by each collect, so it must be missing, empty or a store. */
  dir: z._default(nonEmpty(), '.kollect/store'),
  /**
   * The store's lock (`<dir>.lock`): a collect holds it from its start until its new store is in
   * place; readers take none. `wait`: how long a collect waits for another's lock before it fails
   * with LOCK_BUSY; 0 fails at once.
   */
  lock: z.prefault(z.strictObject({ wait: z.prefault(duration, 0) }), {}),
});
export type StoreSettings = z.infer<typeof storeSettings>;

/** A namespace name or a glob of one (`team-*`, `?` for one character). */
const namespaceGlob = z.string().check(z.regex(/^[a-z0-9*?]([-a-z0-9*?]*[a-z0-9*?])?$/, 'must be a namespace name or a glob of one, such as team-*'));

/** Which namespaces are this cluster's inventory; the API server lists only those (per-namespace paths). */
export const namespaceScope = z.strictObject({
  include: z._default(z.array(namespaceGlob).check(z.minLength(1)), ['*']),
  exclude: z._default(z.array(namespaceGlob), []),
});
export type NamespaceScope = z.infer<typeof namespaceScope>;

/** `events` or `leases.coordination.k8s.io`: a type left out of wildcards. */
const excludedType = z
  .string()
  .check(
    z.regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be resource[.group], such as events or leases.coordination.k8s.io'),
  );

export const configSchema = z.strictObject({
  /** This cluster's name in the fleet; part of every row's identity. */
  cluster: dnsLabel,
  kube: z._default(
    z.strictObject({
      kubeconfig: z.optional(z.string()),
      context: z.optional(z.string()),
    }),
    {},
  ),
  list: z.prefault(listSettings, {}),
  resources: z._default(z.array(resourceConfig).check(z.minLength(1)), DEFAULT_RESOURCES),
  namespaces: z._default(namespaceScope, { include: ['*'], exclude: [] }),
  /** Types wildcards leave out, as resource[.group]. */
  exclude: z._default(z.array(excludedType), []),
  profiles: z._default(z.record(z.string().check(z.regex(/^[a-z0-9][-a-z0-9]*$/, 'profile names are lowercase')), profileConfig), {}),
  shards: z.prefault(shardThresholds, {}),
  store: z.prefault(storeSettings, {}),
  sinks: z._default(z.array(sinkConfig), []),
});
export type KollectConfig = z.infer<typeof configSchema>;
/** The file's shape before defaults are applied. */
export type KollectConfigInput = z.input<typeof configSchema>;
