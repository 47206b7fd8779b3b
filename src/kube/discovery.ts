import type { ResourceConfig } from '../config/schema.js';
import { WILDCARD } from '../config/schema.js';
import { InterruptedError, KubeApiError, KubeUnreachableError, ResourceNotServedError, TooManyTypesError } from '../errors.js';
import { resourceTypeKey } from '../rows/row.js';
import type { KubeClient } from './client.js';
import { getWithRetry, statusError, type RequestDeps, type RetryPolicy } from './request.js';

/** A resource type as the API server serves it, with the configuration entry it came from. */
export interface DiscoveredType {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
  /** The entry of `resources` that asked for it (by name or by a wildcard): its profile and selectors. */
  configured: ResourceRequest;
}

/** What discovery needs of a configured resource (tests may leave out what has a default). */
export type ResourceRequest = Pick<ResourceConfig, 'group' | 'resource' | 'version'> &
  Partial<Pick<ResourceConfig, 'optional' | 'profile' | 'labelSelector' | 'fieldSelector'>>;

/** A type (or with resource `*`, a whole group) absent from a discovery that succeeded: gone, so its rows may go. */
export interface NotServedType {
  group: string;
  version?: string;
  resource: string;
}

/** A group version whose discovery failed (an aggregated API answering 503, a timeout): nothing of the group may be deleted. */
export interface FailedDiscovery {
  group: string;
  version: string;
  message: string;
}

export interface Discovery {
  /** What to list, in the configuration's order, wildcards expanded where they stand. */
  types: DiscoveredType[];
  notServed: NotServedType[];
  failed: FailedDiscovery[];
}

/** What is resolved: the configured resources, the types wildcards leave out, the cap. */
export interface TypeSelection {
  resources: readonly ResourceRequest[];
  /** resource[.group] keys wildcards skip. */
  exclude?: readonly string[];
  maxTypes?: number;
}

interface ApiResource {
  name: string;
  kind: string;
  namespaced: boolean;
  verbs?: string[];
}

interface ApiGroup {
  name: string;
  versions?: Array<{ groupVersion: string; version: string }>;
  preferredVersion?: { version: string };
}

/** `/api/v1` for the core group, `/apis/apps/v1` for the others. */
export function groupVersionPath(group: string, version: string): string {
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

function groupVersionName(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

const JSON_ONLY = 'application/json';

/** A group version's resources, or why there are none: not served (404), or its discovery failed. */
type GroupVersionAnswer = { served: ApiResource[] } | { notServed: true } | { failed: string };

/**
 * Resolves the configured resources to the types to list, the way kubectl discovers: one request
 * per group version, all at once (on a remote server each one's latency is most of its cost), plus
 * `/apis` once when a wildcard needs the groups or their preferred versions.
 *
 * A named type absent from a discovery that succeeded is "not served": skipped when `optional`,
 * else an error naming every such problem at once (a typo or a missing CRD is told before
 * anything is listed). A wildcard takes each listable resource (verb `list`) of its group at the
 * preferred version, subresources and `exclude` left out. A group version that answers 503 or
 * times out is "discovery failed": reported, listed no further, and nothing of it is deleted.
 */
export async function discover(client: KubeClient, selection: TypeSelection, policy: RetryPolicy, deps: RequestDeps): Promise<Discovery> {
  const { resources } = selection;
  const needsGroups = resources.some((r) => r.resource === WILDCARD && r.group !== '' && r.version === undefined);
  const groups = needsGroups ? await servedGroups(client, policy, deps) : new Map<string, ApiGroup>();

  const notServed: NotServedType[] = [];
  const problems: string[] = [];
  /** Each configured entry's group versions to read: named types and versioned wildcards have one, `group: "*"` every group's preferred. */
  const wanted = resources.map((r): Array<{ group: string; version: string }> => {
    if (r.group === WILDCARD) return [{ group: '', version: 'v1' }, ...[...groups.values()].flatMap((g) => preferred(g))];
    if (r.version !== undefined) return [{ group: r.group, version: r.version }];
    if (r.group === '') return [{ group: '', version: 'v1' }];
    const group = groups.get(r.group);
    if (group) return preferred(group);
    if (r.optional) notServed.push({ group: r.group, resource: WILDCARD });
    else problems.push(`group ${r.group} is not served by ${client.server} (needed for ${resourceTypeKey(r)}): is its CRD installed?`);
    return [];
  });

  const answers = new Map<string, Promise<GroupVersionAnswer>>();
  for (const { group, version } of wanted.flat()) {
    const key = groupVersionName(group, version);
    if (!answers.has(key)) answers.set(key, readGroupVersion(client, group, version, policy, deps));
  }
  const answered = new Map(await Promise.all([...answers].map(async ([key, answer]) => [key, await answer] as const)));
  const failed: FailedDiscovery[] = [];
  for (const [key, answer] of answered) {
    if (!('failed' in answer)) continue;
    const slash = key.indexOf('/');
    failed.push({ group: slash < 0 ? '' : key.slice(0, slash), version: key.slice(slash + 1), message: answer.failed });
  }
  if (answered.size > 0 && failed.length === answered.size) {
    throw new KubeApiError(`discovery failed for every group version: ${failed.map((f) => f.message).join('; ')}`, { failed });
  }

  const excluded = new Set(selection.exclude ?? []);
  const types: DiscoveredType[] = [];
  const taken = new Set<string>();
  // A named type wins over a wildcard that also reaches it, wherever each stands: its profile and selectors are the ones meant.
  for (const r of resources) if (r.resource !== WILDCARD) taken.add(resourceTypeKey(r));
  for (const [i, configured] of resources.entries()) {
    for (const { group, version } of wanted[i]!) {
      const name = groupVersionName(group, version);
      const answer = answered.get(name)!;
      if ('failed' in answer) continue;
      if ('notServed' in answer) {
        // A group `*` found in /apis and gone since (a CRD deleted meanwhile) names nothing that must be there.
        if (configured.optional || configured.group === WILDCARD) notServed.push({ group, version, resource: configured.resource });
        else
          problems.push(
            `${name} is not served by ${client.server}${await servedVersionsHint(client, group, policy, deps)} (needed for ${resourceTypeKey(configured)})`,
          );
        continue;
      }
      const served = answer.served.filter((r) => !r.name.includes('/'));
      if (configured.resource !== WILDCARD) {
        const match = served.find((r) => r.name === configured.resource);
        const key = resourceTypeKey(configured);
        if (!match) {
          if (configured.optional) notServed.push({ group, version, resource: configured.resource });
          else
            problems.push(
              `${key} is not served in ${name}; it serves: ${
                served
                  .map((r) => r.name)
                  .sort()
                  .join(', ') || 'nothing'
              }`,
            );
        } else if (!(match.verbs ?? []).includes('list')) {
          problems.push(`${key} in ${name} cannot be listed (verbs: ${(match.verbs ?? []).join(', ')})`);
        } else {
          types.push(discovered(group, version, match, configured));
        }
        continue;
      }
      for (const match of served) {
        const key = resourceTypeKey({ group, resource: match.name });
        if (!(match.verbs ?? []).includes('list') || excluded.has(key) || taken.has(key)) continue;
        taken.add(key);
        types.push(discovered(group, version, match, configured));
      }
    }
  }
  if (problems.length > 0) {
    throw new ResourceNotServedError(`configured resource types the API server does not serve:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { problems });
  }
  const maxTypes = selection.maxTypes ?? Infinity;
  if (types.length > maxTypes) {
    throw new TooManyTypesError(
      `the configured resources resolve to ${types.length} resource types, more than list.maxTypes (${maxTypes}): ` +
        'leave types out with exclude, name groups instead of group "*", or raise list.maxTypes. Nothing was listed',
      { types: types.length, maxTypes },
    );
  }
  return { types, notServed, failed };
}

function discovered(group: string, version: string, match: ApiResource, configured: ResourceRequest): DiscoveredType {
  return { group, version, resource: match.name, kind: match.kind, namespaced: match.namespaced, verbs: match.verbs ?? [], configured };
}

function preferred(group: ApiGroup): Array<{ group: string; version: string }> {
  const version = group.preferredVersion?.version ?? group.versions?.[0]?.version;
  return version === undefined ? [] : [{ group: group.name, version }];
}

/** ` (group policy serves: v1)` when the group exists in another version, '' when it does not. */
async function servedVersionsHint(client: KubeClient, group: string, policy: RetryPolicy, deps: RequestDeps): Promise<string> {
  if (group === '') return '';
  const response = await getWithRetry(client, `/apis/${group}`, JSON_ONLY, policy, deps);
  if (response.status !== 200) return ` (group ${group} is not served at all: is its CRD installed?)`;
  const apiGroup = JSON.parse(response.body.toString('utf8')) as ApiGroup;
  return ` (group ${group} serves: ${(apiGroup.versions ?? []).map((v) => v.version).join(', ')})`;
}

/** `/apis`: every group and its preferred version. Without it no wildcard resolves, so its failure ends the run. */
async function servedGroups(client: KubeClient, policy: RetryPolicy, deps: RequestDeps): Promise<Map<string, ApiGroup>> {
  const response = await getWithRetry(client, '/apis', JSON_ONLY, policy, deps);
  if (response.status !== 200) throw statusError('discovery of the API groups (/apis)', response, client);
  const list = JSON.parse(response.body.toString('utf8')) as { groups?: ApiGroup[] };
  return new Map((list.groups ?? []).map((g) => [g.name, g]));
}

async function readGroupVersion(client: KubeClient, group: string, version: string, policy: RetryPolicy, deps: RequestDeps): Promise<GroupVersionAnswer> {
  const name = groupVersionName(group, version);
  let response;
  try {
    response = await getWithRetry(client, groupVersionPath(group, version), JSON_ONLY, policy, deps);
  } catch (error) {
    // An aggregated API that is down (503 after retries) or a timeout: this group's discovery
    // failed, the others go on. Anything else (an abort, a bug) ends the run.
    if (error instanceof InterruptedError || !(error instanceof KubeApiError || error instanceof KubeUnreachableError)) throw error;
    return { failed: `discovery of ${name} failed: ${error.message}` };
  }
  if (response.status === 404) return { notServed: true };
  if (response.status !== 200) throw statusError(`discovery of ${name}`, response, client);
  const list = JSON.parse(response.body.toString('utf8')) as { resources?: ApiResource[] };
  return { served: list.resources ?? [] };
}
