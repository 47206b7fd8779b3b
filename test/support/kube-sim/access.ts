import type { ResourceType } from './resources.js';

/**
 * What the client's identity may read, as RBAC would grant it: a ClusterRoleBinding (cluster
 * wide), RoleBindings in some namespaces, and perhaps the right to list namespaces. Discovery is
 * always allowed (system:discovery).
 */
export interface KubeSimRbac {
  /** get/list of every type everywhere (default false). */
  clusterWide?: boolean;
  /** Namespaces where namespaced types may be read (default none). */
  namespaces?: string[];
  /** get/list of Namespace objects (default false). */
  listNamespaces?: boolean;
}

/** Whether a get or list of `type` (in `namespace`, or cluster-wide) is allowed; everything is without `rbac`. */
export function permits(rbac: KubeSimRbac | undefined, type: ResourceType, namespace: string | undefined): boolean {
  if (rbac === undefined || rbac.clusterWide === true) return true;
  if (type.group === '' && type.resource === 'namespaces') return rbac.listNamespaces === true;
  return type.namespaced && namespace !== undefined && (rbac.namespaces ?? []).includes(namespace);
}
