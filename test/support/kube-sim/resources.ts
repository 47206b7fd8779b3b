/**
 * The resource types the simulated API server serves, as its discovery documents describe them.
 * `population` says where a type's objects come from in the cluster layout.
 */

export interface Subresource {
  name: string;
  kind: string;
  verbs: string[];
  /** Set when the subresource's kind lives in another group (deployments/scale is autoscaling/v1 Scale). */
  group?: string;
  version?: string;
}

export interface ResourceType {
  /** The key expectedCounts() uses: the plural, then `.group` outside the core group. */
  key: string;
  group: string;
  version: string;
  /** The plural resource name, as in URLs. */
  resource: string;
  singular: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  shortNames: string[];
  categories: string[];
  subresources: Subresource[];
  /** Which generated objects the type serves; 'none' is served but always empty. */
  population: 'namespaces' | 'nodes' | 'namespaced' | 'none';
  /**
   * Who serves it behind kube-apiserver: the apiserver itself, apiextensions (a CRD: an unknown
   * resource of its group is a plain-text 404), or an aggregated API server (which may be down).
   */
  servedBy: 'apiserver' | 'crd' | 'aggregated';
}

const ALL_VERBS = ['create', 'delete', 'deletecollection', 'get', 'list', 'patch', 'update', 'watch'];
const STATUS_VERBS = ['get', 'patch', 'update'];

function type(group: string, version: string, resource: string, kind: string, rest: Partial<ResourceType> & Pick<ResourceType, 'population'>): ResourceType {
  return {
    key: group === '' ? resource : `${resource}.${group}`,
    group,
    version,
    resource,
    kind,
    singular: kind.toLowerCase(),
    namespaced: true,
    verbs: ALL_VERBS,
    shortNames: [],
    categories: [],
    subresources: [],
    servedBy: 'apiserver',
    ...rest,
  };
}

const status = (kind: string): Subresource => ({ name: 'status', kind, verbs: STATUS_VERBS });

/**
 * Namespaced types with generated objects, and each one's share of a namespace's objects.
 * The order is the order of the layout's per-namespace count tables.
 */
export const NAMESPACED_SHARES: ReadonlyArray<{ resource: string; share: number }> = [
  { resource: 'pods', share: 0.4 },
  { resource: 'configmaps', share: 0.2 },
  { resource: 'secrets', share: 0.12 },
  { resource: 'services', share: 0.1 },
  { resource: 'deployments', share: 0.1 },
  { resource: 'widgets', share: 0.08 },
];

/** Every served type; a cluster of Kubernetes 1.24, which still serves policy/v1beta1. */
export const RESOURCE_TYPES: readonly ResourceType[] = [
  type('', 'v1', 'namespaces', 'Namespace', {
    namespaced: false,
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    shortNames: ['ns'],
    subresources: [status('Namespace'), { name: 'finalize', kind: 'Namespace', verbs: ['update'] }],
    population: 'namespaces',
  }),
  type('', 'v1', 'nodes', 'Node', { namespaced: false, shortNames: ['no'], subresources: [status('Node')], population: 'nodes' }),
  type('', 'v1', 'pods', 'Pod', {
    shortNames: ['po'],
    categories: ['all'],
    subresources: [
      status('Pod'),
      { name: 'log', kind: 'Pod', verbs: ['get'] },
      { name: 'eviction', kind: 'Eviction', verbs: ['create'], group: 'policy', version: 'v1' },
    ],
    population: 'namespaced',
  }),
  type('', 'v1', 'services', 'Service', {
    verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
    shortNames: ['svc'],
    categories: ['all'],
    subresources: [status('Service')],
    population: 'namespaced',
  }),
  type('', 'v1', 'configmaps', 'ConfigMap', { shortNames: ['cm'], population: 'namespaced' }),
  type('', 'v1', 'secrets', 'Secret', { population: 'namespaced' }),
  type('apps', 'v1', 'deployments', 'Deployment', {
    shortNames: ['deploy'],
    categories: ['all'],
    subresources: [status('Deployment'), { name: 'scale', kind: 'Scale', verbs: STATUS_VERBS, group: 'autoscaling', version: 'v1' }],
    population: 'namespaced',
  }),
  type('example.com', 'v1', 'widgets', 'Widget', {
    shortNames: ['wd'],
    categories: ['all'],
    subresources: [status('Widget')],
    population: 'namespaced',
    servedBy: 'crd',
  }),
  type('policy', 'v1', 'poddisruptionbudgets', 'PodDisruptionBudget', {
    shortNames: ['pdb'],
    subresources: [status('PodDisruptionBudget')],
    population: 'none',
  }),
  type('policy', 'v1beta1', 'poddisruptionbudgets', 'PodDisruptionBudget', {
    shortNames: ['pdb'],
    subresources: [status('PodDisruptionBudget')],
    population: 'none',
  }),
  // Appended after the types above, whose positions give objects their ids (and so their uids).
  // cert-manager's CRDs: a group of several types, for wildcards (no objects).
  type('cert-manager.io', 'v1', 'certificates', 'Certificate', {
    shortNames: ['cert', 'certs'],
    categories: ['cert-manager'],
    subresources: [status('Certificate')],
    population: 'none',
    servedBy: 'crd',
  }),
  type('cert-manager.io', 'v1', 'issuers', 'Issuer', { categories: ['cert-manager'], subresources: [status('Issuer')], population: 'none', servedBy: 'crd' }),
  type('cert-manager.io', 'v1', 'clusterissuers', 'ClusterIssuer', {
    namespaced: false,
    categories: ['cert-manager'],
    subresources: [status('ClusterIssuer')],
    population: 'none',
    servedBy: 'crd',
  }),
  // metrics-server's aggregated API: read-only and never stored, so its lists are empty here.
  type('metrics.k8s.io', 'v1beta1', 'pods', 'PodMetrics', { verbs: ['get', 'list'], population: 'none', servedBy: 'aggregated' }),
  type('metrics.k8s.io', 'v1beta1', 'nodes', 'NodeMetrics', { namespaced: false, verbs: ['get', 'list'], population: 'none', servedBy: 'aggregated' }),
];

/** The group versions of `types` in discovery order; the first version of a group is its preferred one. */
export function groupVersions(types: readonly ResourceType[]): Array<{ group: string; version: string }> {
  const seen = new Set<string>();
  const out: Array<{ group: string; version: string }> = [];
  for (const t of types) {
    const gv = `${t.group}/${t.version}`;
    if (!seen.has(gv)) {
      seen.add(gv);
      out.push({ group: t.group, version: t.version });
    }
  }
  return out;
}

/** The type served at `resource` in `group`/`version`, if any. */
export function findType(group: string, version: string, resource: string): ResourceType | undefined {
  return RESOURCE_TYPES.find((t) => t.group === group && t.version === version && t.resource === resource);
}
