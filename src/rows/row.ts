/**
 * One collected row: the lean projection of one Kubernetes object. Identity is
 * (cluster, namespace, name, uid); cluster-scoped objects have namespace ''.
 */
export interface Row {
  /** The cluster's name in the fleet (from config). */
  cluster: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  name: string;
  uid: string;
  /** '' for the core group. */
  apiGroup: string;
  apiVersion: string;
  kind: string;
  /** Plural resource name as served (`pods`, `deployments`), to tie a row to its list. */
  resource: string;
  labels: Record<string, string>;
  /** Selected attributes from the profile; values are JSON. */
  attributes: Record<string, unknown>;
  /** metadata.creationTimestamp, or null when the object has none. */
  createdAt: string | null;
  resourceVersion: string;
  /** Hex digest of the row's content; stable while the object is unchanged. */
  checksum: string;
}

/** A resource type as configured and listed: group, version and plural resource. */
export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  /** Plural name, e.g. `pods`. */
  resource: string;
}

/** kubectl-style name of a resource type: `pods`, `deployments.apps`, `widgets.example.com`. */
export function resourceTypeKey(type: Pick<ResourceType, 'group' | 'resource'>): string {
  return type.group ? `${type.resource}.${type.group}` : type.resource;
}

/** Shard key of cluster-scoped rows. Namespaces cannot contain `_`, so it never collides. */
export const CLUSTER_SHARD = '_cluster';

/** The export shard a row belongs to: its namespace, or `_cluster`. */
export function shardKeyOf(namespace: string): string {
  return namespace === '' ? CLUSTER_SHARD : namespace;
}

/** The namespace a shard key stands for ('' for `_cluster`). */
export function namespaceOfShard(shardKey: string): string {
  return shardKey === CLUSTER_SHARD ? '' : shardKey;
}
