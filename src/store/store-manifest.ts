import * as z from 'zod/mini';
import { count, nonEmpty } from '../zod.js';
import { resourceTypeKey } from '../rows/row.js';

/*
 * The store manifest: the collect store's own manifest.json, which says what the store holds
 * (cluster, times, types, shards and where their rows are). Not to be confused with Kubernetes
 * manifests, the YAML of a GitOps repo that shard-report counts (src/shards/kube-manifest-sizes.ts).
 */

/** What every version's format tag starts with: a folder whose store manifest has one is a kollect store, of whichever version. */
export const STORE_FORMAT_FAMILY = 'kollect.store/';
/** Format tag of the store manifest; bumped on any incompatible change to the store layout. */
export const STORE_FORMAT = `${STORE_FORMAT_FAMILY}v5` as const;
/** The previous format, still read: v5 only made the spool's labels and attributes canonical JSON, which a v4 store's may not be. */
export const STORE_FORMAT_V4 = `${STORE_FORMAT_FAMILY}v4` as const;
/** An older format, still read: v4 added what discovery resolved and per-namespace completeness, which a v3 store has none of. */
export const STORE_FORMAT_V3 = `${STORE_FORMAT_FAMILY}v3` as const;
/** The store manifest's file name in the store folder (the on-disk name stays, so older stores still open). */
export const STORE_MANIFEST_FILE = 'manifest.json';
/** The folder of the spool files, one per resource type. */
export const ROWS_DIR = 'rows';

/** The spool file of a resource type, relative to the store: its rows as spool lines (src/store/spool-line.ts). */
export function spoolFileOf(type: { group: string; resource: string }): string {
  return `${ROWS_DIR}/${resourceTypeKey(type)}.tsv`;
}

const resourceStatus = z.strictObject({
  group: z.string(),
  version: z.string(),
  resource: z.string(),
  kind: z.string(),
  namespaced: z.boolean(),
  /** False when the list did not finish (403, an error, an interrupted run). */
  complete: z.boolean(),
  /** Why the list is incomplete (`forbidden`, `error`, `interrupted`, `invalid-object`) with the server's message or what was refused. */
  reason: z.optional(z.string()),
  message: z.optional(z.string()),
  /**
   * Listed namespace by namespace, the lists of only these namespaces did not complete: the type's
   * rows in every other namespace are complete. Absent on an incomplete type: none of it is.
   */
  incompleteNamespaces: z.optional(z.array(z.string())),
  rows: count(),
  /** Profile used and whether metadata only was requested. */
  profile: z.string(),
  metadataOnly: z.boolean(),
});
export type ResourceStatus = z.infer<typeof resourceStatus>;

const segment = z.strictObject({
  /** A spool file, relative to the store. */
  file: nonEmpty(),
  offset: count(),
  /** Whole spool lines: a segment starts and ends at a line's boundary, and holds rows of one shard. */
  bytes: count(),
});
/** Where some of a shard's rows are: a byte range of a spool file. */
export type Segment = z.infer<typeof segment>;

const shardEntry = z.strictObject({
  /** Namespace, or `_cluster` for cluster-scoped rows. */
  key: nonEmpty(),
  rows: count(),
  /** Bytes of the shard's rows as JSON lines (`JSON.stringify(row)` and a newline each): the payload the thresholds apply to, not the spool's bytes. */
  bytes: count(),
  /** Order-independent digest of the shard's row checksums. Equal fingerprints, equal rows. */
  fingerprint: z.string().check(z.regex(/^[0-9a-f]+$/)),
  /** Where the shard's rows are, resource type after resource type (usually one or two segments each). */
  segments: z.array(segment),
});
export type ShardEntry = z.infer<typeof shardEntry>;

/** A configured type, or with `*` a whole group or every group: what this cluster's inventory covers. */
const typePattern = z.strictObject({ group: z.string(), resource: z.string() });
export type TypePattern = z.infer<typeof typePattern>;

export const storeManifestSchema = z.strictObject({
  format: z.literal(STORE_FORMAT),
  cluster: nonEmpty(),
  collectedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  resources: z.array(resourceStatus),
  /**
   * The configured resources as patterns (`*` for a wildcard): a stored row of a type they cover
   * that this store does not hold (not served, left out by exclude) is gone, and may be deleted.
   */
  scope: z.array(typePattern),
  /** Configured optional types (resource `*`: groups) absent from a discovery that succeeded. */
  notServed: z.array(z.strictObject({ group: z.string(), version: z.optional(z.string()), resource: z.string() })),
  /** Group versions whose discovery failed (503, timeout): nothing of their groups may be deleted. */
  discoveryFailed: z.array(z.strictObject({ group: z.string(), version: z.string(), message: z.string() })),
  shards: z.array(shardEntry),
  totals: z.strictObject({ rows: count(), bytes: count() }),
});
export type StoreManifest = z.infer<typeof storeManifestSchema>;

/**
 * A v3 manifest read as the current format: its scope is the types it lists (all a v3 collect could be asked for),
 * and it records no discovery problem.
 */
export function upgradeV3(raw: Record<string, unknown>): Record<string, unknown> {
  const resources = Array.isArray(raw.resources) ? (raw.resources as Array<{ group?: unknown; resource?: unknown }>) : [];
  return {
    ...raw,
    format: STORE_FORMAT,
    scope: resources.map(({ group, resource }) => ({ group, resource })),
    notServed: [],
    discoveryFailed: [],
  };
}
