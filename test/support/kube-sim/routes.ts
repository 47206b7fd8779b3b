import { createHash } from 'node:crypto';
import { findType, groupVersions, RESOURCE_TYPES, type ResourceType } from './resources.js';

/**
 * What the server answers at which path: the discovery documents (`/api`, `/api/v1`, `/apis`,
 * `/apis/{group}`, `/apis/{group}/{version}`, `/version`), written once, and the object paths
 * (lists cluster-wide and per namespace, GETs of one object and of its status subresource).
 */

export type Route =
  | { kind: 'document'; body: string }
  | { kind: 'list'; type: ResourceType; namespace?: string }
  | { kind: 'get'; type: ResourceType; namespace?: string; name: string }
  | { kind: 'notFound' };

/** The Kubernetes version the simulator claims: 1.24 is the last that serves policy/v1beta1, which it serves. */
const VERSION_INFO = {
  major: '1',
  minor: '24',
  gitVersion: 'v1.24.17',
  gitCommit: '22a9682c8fe855c321be75c5faacde343f909b04',
  gitTreeState: 'clean',
  buildDate: '2023-08-23T23:37:25Z',
  goVersion: 'go1.20.7',
  compiler: 'gc',
  platform: 'linux/amd64',
};

/** The hash discovery publishes so that clients notice a storage version change (all types here store v1). */
function storageVersionHash(type: ResourceType): string {
  return createHash('sha256').update(`${type.group}/v1/${type.kind}`).digest().subarray(0, 8).toString('base64');
}

/** Which types the cluster serves now, and which groups' aggregated APIs are down. */
export interface Serving {
  serves(type: ResourceType): boolean;
  unavailableGroups: ReadonlySet<string>;
}

function resourceList(types: readonly ResourceType[], group: string, version: string): object {
  const resources = types
    .filter((t) => t.group === group && t.version === version)
    .flatMap((t) => [
      {
        name: t.resource,
        singularName: t.singular,
        namespaced: t.namespaced,
        kind: t.kind,
        verbs: t.verbs,
        ...(t.shortNames.length > 0 ? { shortNames: t.shortNames } : {}),
        ...(t.categories.length > 0 ? { categories: t.categories } : {}),
        storageVersionHash: storageVersionHash(t),
      },
      ...t.subresources.map((s) => ({
        name: `${t.resource}/${s.name}`,
        singularName: '',
        namespaced: t.namespaced,
        ...(s.group !== undefined ? { group: s.group, version: s.version } : {}),
        kind: s.kind,
        verbs: s.verbs,
      })),
    ]);
  // The core group's list has no apiVersion; the named groups' lists do.
  return group === ''
    ? { kind: 'APIResourceList', groupVersion: version, resources }
    : { kind: 'APIResourceList', apiVersion: 'v1', groupVersion: `${group}/${version}`, resources };
}

function apiGroup(types: readonly ResourceType[], name: string): { name: string; versions: object[]; preferredVersion: object } {
  const versions = groupVersions(types)
    .filter((gv) => gv.group === name)
    .map((gv) => ({ groupVersion: `${name}/${gv.version}`, version: gv.version }));
  return { name, versions, preferredVersion: versions[0]! };
}

/**
 * Every discovery document by path, as the JSON text to send. A type the cluster does not serve
 * is left out, and so are a group version and a group left without types. A group whose
 * aggregated API is down stays in `/apis` and `/apis/{group}` (the aggregator answers those
 * from its APIService objects), but has no resource list.
 */
export function discoveryDocuments(serverAddress: string, serving: Serving): Map<string, string> {
  const types = RESOURCE_TYPES.filter((t) => serving.serves(t));
  const docs = new Map<string, unknown>();
  docs.set('/version', VERSION_INFO);
  docs.set('/api', { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [{ clientCIDR: '0.0.0.0/0', serverAddress }] });
  const groups = [...new Set(groupVersions(types).map((gv) => gv.group))].filter((g) => g !== '');
  docs.set('/apis', { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map((g) => apiGroup(types, g)) });
  for (const group of groups) docs.set(`/apis/${group}`, { kind: 'APIGroup', apiVersion: 'v1', ...apiGroup(types, group) });
  for (const { group, version } of groupVersions(types)) {
    if (!serving.unavailableGroups.has(group)) docs.set(groupVersionPath(group, version), resourceList(types, group, version));
  }
  return new Map([...docs].map(([path, doc]) => [path, `${JSON.stringify(doc)}\n`]));
}

export function groupVersionPath(group: string, version: string): string {
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

/** The route for a URL path (already split from its query). */
export function route(path: string, documents: Map<string, string>): Route {
  const document = documents.get(path);
  if (document !== undefined) return { kind: 'document', body: document };
  let parts: string[];
  try {
    parts = path.split('/').slice(1).map(decodeURIComponent);
  } catch {
    // A malformed %-escape names nothing that exists.
    return { kind: 'notFound' };
  }
  if (parts[0] === 'api' && parts.length >= 3) return objectRoute('', parts[1]!, parts.slice(2));
  if (parts[0] === 'apis' && parts.length >= 4) return objectRoute(parts[1]!, parts[2]!, parts.slice(3));
  return { kind: 'notFound' };
}

/**
 * `{resource}`, `{resource}/{name}[/status]`, `namespaces/{ns}/{resource}` and
 * `namespaces/{ns}/{resource}/{name}[/status]` under a group version.
 */
function objectRoute(group: string, version: string, rest: string[]): Route {
  const inNamespace = rest[0] === 'namespaces' && rest.length >= 3 && findType(group, version, rest[2]!)?.namespaced === true;
  const [namespace, resource, name, subresource, ...extra] = inNamespace ? rest.slice(1) : [undefined, ...rest];
  const type = findType(group, version, resource!);
  if (!type || extra.length > 0 || (type.namespaced !== inNamespace && name !== undefined)) return { kind: 'notFound' };
  const ns = namespace !== undefined ? { namespace } : {};
  if (name === undefined) return { kind: 'list', type, ...ns };
  // The status subresource reads as the object itself; other subresources are not served.
  if (subresource !== undefined && !(subresource === 'status' && type.subresources.some((s) => s.name === 'status'))) return { kind: 'notFound' };
  return { kind: 'get', type, name, ...ns };
}
