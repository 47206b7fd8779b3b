import * as z from 'zod';

/** Format tag of the manifest; bumped on any incompatible change to the store layout. */
export const STORE_FORMAT = 'kollect.store/v1';
export const MANIFEST_FILE = 'manifest.json';

const resourceStatus = z.strictObject({
  group: z.string(),
  version: z.string(),
  resource: z.string(),
  kind: z.string(),
  namespaced: z.boolean(),
  /** False when the list did not finish (403, an error, an interrupted run). */
  complete: z.boolean(),
  /** Why the list is incomplete (`forbidden`, `error`, `interrupted`) with the server's message. */
  reason: z.string().optional(),
  message: z.string().optional(),
  rows: z.number().int().nonnegative(),
  /** Profile used and whether metadata only was requested. */
  profile: z.string(),
  metadataOnly: z.boolean(),
});
export type ResourceStatus = z.infer<typeof resourceStatus>;

const shardEntry = z.strictObject({
  /** Namespace, or `_cluster` for cluster-scoped rows. */
  key: z.string().min(1),
  rows: z.number().int().nonnegative(),
  /** Bytes of the shard's rows as JSON lines. */
  bytes: z.number().int().nonnegative(),
  /** Order-independent digest of the shard's row checksums. Equal fingerprints, equal rows. */
  fingerprint: z.string().regex(/^[0-9a-f]+$/),
  /** Spool files of the shard, relative to the store, one per resource type. */
  files: z.array(z.string()),
});
export type ShardEntry = z.infer<typeof shardEntry>;

export const manifestSchema = z.strictObject({
  format: z.literal(STORE_FORMAT),
  cluster: z.string().min(1),
  collectedAt: z.iso.datetime(),
  finishedAt: z.iso.datetime(),
  resources: z.array(resourceStatus),
  shards: z.array(shardEntry),
  totals: z.strictObject({ rows: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() }),
});
export type Manifest = z.infer<typeof manifestSchema>;
