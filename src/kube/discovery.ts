import type { ResourceConfig } from '../config/schema.js';
import { ResourceNotServedError } from '../errors.js';
import { resourceTypeKey } from '../rows/row.js';
import type { KubeClient } from './client.js';
import { getWithRetry, statusError, type RequestDeps, type RetryPolicy } from './request.js';

/** A configured resource type as the API server serves it. */
export interface DiscoveredType {
  group: string;
  version: string;
  resource: string;
  kind: string;
  namespaced: boolean;
  verbs: string[];
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
}

/** `/api/v1` for the core group, `/apis/apps/v1` for the others. */
export function groupVersionPath(group: string, version: string): string {
  return group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
}

function groupVersionName(group: string, version: string): string {
  return group === '' ? version : `${group}/${version}`;
}

const JSON_ONLY = 'application/json';

/**
 * Looks up each configured resource type in the server's discovery documents (one request per
 * group version) and fails with every problem at once when one is not served or not listable:
 * a typo or a missing CRD is told before anything is listed.
 */
export async function discover(client: KubeClient, resources: readonly ResourceConfig[], policy: RetryPolicy, deps: RequestDeps): Promise<DiscoveredType[]> {
  const byGroupVersion = new Map<string, ResourceConfig[]>();
  for (const resource of resources) {
    const key = groupVersionName(resource.group, resource.version);
    byGroupVersion.set(key, [...(byGroupVersion.get(key) ?? []), resource]);
  }

  // One request per group version, all at once (as kubectl discovers): on a remote server the
  // latency of each is most of its cost. Problems are told in the configuration's order.
  const answers = await Promise.all(
    [...byGroupVersion].map(async ([groupVersion, wanted]) => {
      const { group, version } = wanted[0]!;
      const problems: string[] = [];
      const found: Array<[ResourceConfig, DiscoveredType]> = [];
      const response = await getWithRetry(client, groupVersionPath(group, version), JSON_ONLY, policy, deps);
      if (response.status === 404) {
        problems.push(
          `${groupVersion} is not served by ${client.server}${await servedVersionsHint(client, group, policy, deps)} (needed for ${wanted.map((r) => r.resource).join(', ')})`,
        );
        return { problems, found };
      }
      if (response.status !== 200) throw statusError(`discovery of ${groupVersion}`, response, client);
      const list = JSON.parse(response.body.toString('utf8')) as { resources?: ApiResource[] };
      const served = (list.resources ?? []).filter((r) => !r.name.includes('/'));
      for (const resource of wanted) {
        const match = served.find((r) => r.name === resource.resource);
        if (!match) {
          problems.push(
            `${resourceTypeKey(resource)} is not served in ${groupVersion}; it serves: ${
              served
                .map((r) => r.name)
                .sort()
                .join(', ') || 'nothing'
            }`,
          );
        } else if (!(match.verbs ?? []).includes('list')) {
          problems.push(`${resourceTypeKey(resource)} in ${groupVersion} cannot be listed (verbs: ${(match.verbs ?? []).join(', ')})`);
        } else {
          found.push([resource, { group, version, resource: match.name, kind: match.kind, namespaced: match.namespaced, verbs: match.verbs ?? [] }]);
        }
      }
      return { problems, found };
    }),
  );
  const problems = answers.flatMap((a) => a.problems);
  const found = new Map(answers.flatMap((a) => a.found));
  if (problems.length > 0) {
    throw new ResourceNotServedError(`configured resource types the API server does not serve:\n${problems.map((p) => `  - ${p}`).join('\n')}`, { problems });
  }
  return resources.map((r) => found.get(r)!);
}

/** ` (group policy serves: v1)` when the group exists in another version, '' when it does not. */
async function servedVersionsHint(client: KubeClient, group: string, policy: RetryPolicy, deps: RequestDeps): Promise<string> {
  if (group === '') return '';
  const response = await getWithRetry(client, `/apis/${group}`, JSON_ONLY, policy, deps);
  if (response.status !== 200) return ` (group ${group} is not served at all: is its CRD installed?)`;
  const apiGroup = JSON.parse(response.body.toString('utf8')) as ApiGroup;
  return ` (group ${group} serves: ${(apiGroup.versions ?? []).map((v) => v.version).join(', ')})`;
}
