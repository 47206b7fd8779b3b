import * as z from 'zod';
import { isValidAttributePath } from '../rows/attribute-path.js';

/**
 * The configuration file's schema. Every field has a default where the seed gives one, so a
 * minimal file names only the cluster and its sinks.
 */

/** Kubernetes names for clusters and sinks: lowercase DNS-1123 labels, so they fit paths and SQL. */
const dnsLabel = z
  .string()
  .min(1)
  .max(63)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be a lowercase DNS-1123 label (a-z, 0-9, "-")');

/** SQL identifiers from config: validated here, and always quoted when used. */
export const sqlIdentifier = z
  .string()
  .regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a SQL identifier: letters, digits and "_", not starting with a digit, at most 63 characters');

/** Durations like `90s`, `15m`, `1h`, `1h30m`, `0`. */
const durationPattern = /^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
export const duration = z
  .union([z.number().int().nonnegative(), z.string()])
  .transform((value, ctx) => {
    if (typeof value === 'number') return value * 1000;
    const match = durationPattern.exec(value.trim());
    if (value.trim() === '0') return 0;
    if (!match || value.trim() === '') {
      ctx.addIssue({ code: 'custom', message: `"${value}" is not a duration such as 90s, 15m or 1h` });
      return z.NEVER;
    }
    const [, h = '0', m = '0', s = '0'] = match;
    return ((Number(h) * 60 + Number(m)) * 60 + Number(s)) * 1000;
  });

/**
 * A secret is referenced, never inlined: from an environment variable or a mounted file.
 * A plain string is refused so that credentials never land in a ConfigMap or a repo.
 */
export const secretRef = z.union(
  [
    z.strictObject({ env: z.string().min(1) }),
    z.strictObject({ file: z.string().min(1) }),
  ],
  { error: 'must reference a secret as {env: NAME} or {file: PATH}; secrets are never written inline' },
);
export type SecretRef = z.infer<typeof secretRef>;

const pathTemplate = z
  .string()
  .min(1)
  .refine((t) => t.includes('{namespace}'), 'must contain {namespace}: one file per shard')
  .refine((t) => !t.startsWith('/') && !t.split('/').includes('..'), 'must be a relative path without ".."')
  .refine((t) => [...t.matchAll(/\{([^}]*)\}/g)].every((m) => m[1] === 'cluster' || m[1] === 'namespace'), 'only {cluster} and {namespace} may be used');

const DEFAULT_PATH_TEMPLATE = 'clusters/{cluster}/namespaces/{namespace}.json';

const fileSink = z.strictObject({
  name: dnsLabel,
  type: z.literal('file'),
  /** Folder the files are written under. */
  dir: z.string().min(1),
  pathTemplate: pathTemplate.default(DEFAULT_PATH_TEMPLATE),
});

const postgresSink = z.strictObject({
  name: dnsLabel,
  type: z.literal('postgres'),
  /** Connection URL, referenced (it carries a password). Defaults to env DATABASE_URL. */
  url: secretRef.default({ env: 'DATABASE_URL' }),
  schema: sqlIdentifier.default('public'),
  table: sqlIdentifier.default('kollect_items'),
  runsTable: sqlIdentifier.default('kollect_runs'),
  ssl: z
    .strictObject({
      mode: z.enum(['disable', 'require', 'verify-ca', 'verify-full']).default('verify-full'),
      caFile: z.string().optional(),
    })
    .optional(),
  statementTimeout: duration.prefault('5m'),
  /** What a second run of the same cluster does while the first holds the lock. */
  onLocked: z.enum(['wait', 'fail']).default('fail'),
}).refine((sink) => sink.table !== sink.runsTable, {
  path: ['runsTable'],
  error: (issue) => `must differ from table ("${(issue.input as { table: string }).table}"): the runs are recorded in a table of their own`,
});

const gitSink = z.strictObject({
  name: dnsLabel,
  type: z.literal('git'),
  /** HTTP(S) remote; credentials never go in the URL. */
  url: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), 'must not carry credentials; use auth'),
  ref: z.string().min(1).default('main'),
  pathTemplate: pathTemplate.default(DEFAULT_PATH_TEMPLATE),
  /** Minimum time between two exports of this ref (the seed's audit cadence). */
  exportMinInterval: duration.prefault('1h'),
  /** Persistent mirror; defaults to $KOLLECT_GIT_MIRROR_DIR/<sink name>. */
  mirrorDir: z.string().optional(),
  auth: z
    .strictObject({
      username: secretRef.optional(),
      token: secretRef,
    })
    .optional(),
  /** An https server whose certificate a private CA signed: that CA's certificates (PEM), trusted instead of Node's roots. */
  tls: z.strictObject({ caFile: z.string().min(1) }).optional(),
  author: z
    .strictObject({
      name: z.string().min(1).default('kollect'),
      email: z.string().min(1).default('kollect@localhost'),
    })
    .default({ name: 'kollect', email: 'kollect@localhost' }),
  /** Commit message prefix; kollect appends what changed. */
  message: z.string().default('kollect snapshot'),
  pushRetries: z.number().int().min(0).max(20).default(5),
}).refine((sink) => sink.tls === undefined || /^https:/i.test(sink.url), {
  path: ['tls'],
  error: 'applies only to an https URL',
});

export const sinkConfig = z.discriminatedUnion('type', [fileSink, postgresSink, gitSink], {
  error: 'must have type file, postgres or git',
});
export type SinkConfig = z.infer<typeof sinkConfig>;
export type FileSinkConfig = z.infer<typeof fileSink>;
export type PostgresSinkConfig = z.infer<typeof postgresSink>;
export type GitSinkConfig = z.infer<typeof gitSink>;

/** A JSON path into an object, dotted with optional [n] indexes: `spec.containers[0].image`. */
const attributePath = z
  .string()
  .refine(isValidAttributePath, 'must be a path such as spec.replicas, spec.containers[*].image or metadata.annotations["a/b"]');

export const profileConfig = z.strictObject({
  /** Attribute name to JSON path into the object. */
  attributes: z.record(z.string().regex(/^[A-Za-z_][\w]*$/, 'attribute names are identifiers'), attributePath).default({}),
});
export type ProfileConfig = z.infer<typeof profileConfig>;

export const resourceConfig = z.strictObject({
  /** API group; '' (or omitted) for the core group. */
  group: z.string().default(''),
  version: z.string().min(1),
  /** Plural resource name as served, e.g. pods. */
  resource: z.string().regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, 'must be the plural resource name, e.g. pods'),
  /** Built-in profile name or one defined under profiles; defaults to the built-in for the resource, else `metadata`. */
  profile: z.string().optional(),
});
export type ResourceConfig = z.infer<typeof resourceConfig>;

export const DEFAULT_RESOURCES: ResourceConfig[] = [
  { group: '', version: 'v1', resource: 'namespaces' },
  { group: '', version: 'v1', resource: 'nodes' },
  { group: '', version: 'v1', resource: 'pods' },
  { group: '', version: 'v1', resource: 'services' },
  { group: '', version: 'v1', resource: 'configmaps' },
  { group: '', version: 'v1', resource: 'secrets' },
  { group: 'apps', version: 'v1', resource: 'deployments' },
];

export const shardThresholds = z
  .strictObject({
    /** ExportShardWarning at this many rows. */
    warnRows: z.number().int().positive().default(1800),
    /** Keep shards under this many rows. */
    targetRows: z.number().int().positive().default(2000),
    /** A monolithic payload fails with PayloadTooLarge above this many rows. */
    maxRows: z.number().int().positive().default(2500),
    /** Warn at this many bytes of rows. */
    warnBytes: z.number().int().positive().default(1_258_291),
    /** PayloadTooLarge above this many bytes (etcd's 1.5 MiB request limit). */
    maxBytes: z.number().int().positive().default(1_572_864),
  })
  .refine((t) => t.warnRows <= t.targetRows && t.targetRows <= t.maxRows, {
    message: 'must satisfy warnRows <= targetRows <= maxRows',
  })
  .refine((t) => t.warnBytes <= t.maxBytes, { message: 'must satisfy warnBytes <= maxBytes' });
export type ShardThresholds = z.infer<typeof shardThresholds>;

export const listSettings = z.strictObject({
  /** `limit` on every list call. */
  pageSize: z.number().int().min(1).max(10_000).default(500),
  /** Resource types listed at once. */
  concurrency: z.number().int().min(1).max(64).default(4),
  /** Retries of one page on 429, 5xx and dropped connections. */
  retries: z.number().int().min(0).max(20).default(6),
  /** Relists of one type after its continue token expired (410). */
  relists: z.number().int().min(0).max(10).default(3),
  /** Timeout of one page request. */
  timeout: duration.prefault('60s'),
  /**
   * Threads that parse and project pages while the main thread fetches and spools: a number,
   * `auto` (cores - 1, at most 4, fewer under a container memory limit; none on one core), or 0
   * to do it all on the main thread. Never more than the list concurrency.
   */
  workers: z.union([z.literal('auto'), z.number().int().min(0).max(16)], { error: 'must be auto or a whole number of threads from 0 to 16' }).default('auto'),
});
export type ListSettings = z.infer<typeof listSettings>;

export const configSchema = z.strictObject({
  /** This cluster's name in the fleet; part of every row's identity. */
  cluster: dnsLabel,
  kube: z
    .strictObject({
      kubeconfig: z.string().optional(),
      context: z.string().optional(),
    })
    .default({}),
  list: listSettings.prefault({}),
  resources: z.array(resourceConfig).min(1).default(DEFAULT_RESOURCES),
  profiles: z.record(z.string().regex(/^[a-z0-9][-a-z0-9]*$/, 'profile names are lowercase'), profileConfig).default({}),
  shards: shardThresholds.prefault({}),
  /** Where the collect store is spooled. */
  store: z.strictObject({ dir: z.string().min(1).default('.kollect/store') }).default({ dir: '.kollect/store' }),
  sinks: z.array(sinkConfig).default([]),
});
export type KollectConfig = z.infer<typeof configSchema>;
/** The file's shape before defaults are applied. */
export type KollectConfigInput = z.input<typeof configSchema>;
