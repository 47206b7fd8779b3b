import type { ListSettings } from '../config/schema.js';
import { ContinueExpiredError, KubeApiError } from '../errors.js';
import type { KubeObject } from '../rows/project.js';
import type { KubeClient, KubeResponse } from './client.js';
import { groupVersionPath, type DiscoveredType } from './discovery.js';
import { getWithRetry, parseStatus, statusError, type RequestDeps } from './request.js';

export interface ListOptions extends ListSettings {
  /** Ask for PartialObjectMetadataList: the server drops spec, status and data before sending. */
  metadataOnly: boolean;
}

/** What a list yields, in order. */
export type ListEvent =
  | { kind: 'page'; items: KubeObject[]; page: number }
  /** The continue token expired: everything yielded so far for this type is void; the list starts over. */
  | { kind: 'restart'; reason: string }
  /** 403: the type cannot be listed with these credentials; nothing more comes. */
  | { kind: 'forbidden'; message: string };

export const FULL_OBJECTS = 'application/json';
export const METADATA_ONLY = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

interface ListBody {
  kind?: string;
  metadata?: { continue?: string; resourceVersion?: string };
  items?: KubeObject[];
}

function parsePage(body: Buffer, what: string): ListBody {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch (error) {
    throw new KubeApiError(`${what}: the answer is not JSON`, {}, { cause: error });
  }
  const list = parsed as ListBody;
  if (parsed === null || typeof parsed !== 'object' || !Array.isArray(list.items)) {
    throw new KubeApiError(`${what}: the answer is not a list (kind ${String(list?.kind)})`);
  }
  return list;
}

/**
 * Lists one resource type cluster-wide, a page of `pageSize` objects at a time, and yields each
 * page's raw objects. A 410 on a continue token restarts the list from the beginning (the caller
 * discards what it had, so nothing is counted twice), at most `relists` times; 429, 5xx and
 * broken connections are retried with backoff; 403 ends the list with a `forbidden` event.
 */
export async function* listPages(client: KubeClient, type: DiscoveredType, options: ListOptions, deps: RequestDeps): AsyncGenerator<ListEvent> {
  const base = `${groupVersionPath(type.group, type.version)}/${type.resource}`;
  const accept = options.metadataOnly ? METADATA_ONLY : FULL_OBJECTS;
  const policy = { retries: options.retries, timeoutMs: options.timeout };
  const request = (token: string | undefined): Promise<KubeResponse> => {
    const query = new URLSearchParams({ limit: String(options.pageSize) });
    if (token !== undefined) query.set('continue', token);
    return getWithRetry(client, `${base}?${query.toString()}`, accept, policy, deps);
  };
  let relists = 0;
  let page = 0;
  let pending: Promise<KubeResponse> | undefined = request(undefined);
  try {
    while (pending) {
      const what = `list ${type.resource}${type.group ? `.${type.group}` : ''} (page ${page + 1})`;
      const response: KubeResponse = await pending;
      pending = undefined;

      if (response.status === 410) {
        const status = parseStatus(response);
        if (relists >= options.relists) {
          throw new ContinueExpiredError(`${what}: the continue token expired ${relists + 1} times; the list never completed (raise list.pageSize or list.relists)`, {
            resource: type.resource,
          });
        }
        relists++;
        page = 0;
        yield { kind: 'restart', reason: status.message ?? 'continue token expired (410 Gone)' };
        pending = request(undefined);
        continue;
      }
      if (response.status === 403) {
        yield { kind: 'forbidden', message: parseStatus(response).message ?? `403 Forbidden listing ${type.resource}` };
        return;
      }
      if (response.status !== 200) throw statusError(what, response, client);

      const list = parsePage(response.body, what);
      page++;
      // Ask for the next page before handing this one over: the server works while kollect projects.
      const token = list.metadata?.continue || undefined;
      if (token !== undefined) pending = request(token);
      yield { kind: 'page', items: list.items!, page };
    }
  } finally {
    // The caller stopped early (an error, an abort): the prefetched page is not wanted, and its
    // failure must not surface as an unhandled rejection.
    pending?.catch(() => undefined);
  }
}
