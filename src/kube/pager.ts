import type { ListSettings } from '../config/schema.js';
import { ContinueExpiredError } from '../errors.js';
import { resourceTypeKey } from '../rows/row.js';
import type { KubeClient, KubeResponse } from './client.js';
import { groupVersionPath, type DiscoveredType } from './discovery.js';
import { pageContinue, type ListedPage } from './page/parse-page.js';
import { getWithRetry, parseStatus, statusError, type RequestDeps } from './request.js';

/** The list settings one type's list uses (concurrency and workers are the caller's). */
export interface ListOptions extends Pick<ListSettings, 'pageSize' | 'retries' | 'relists' | 'timeout' | 'fastParse'> {
  /** Ask for PartialObjectMetadataList: the server drops spec, status and data before sending. */
  metadataOnly: boolean;
  /** List only this namespace (its own path, as namespaced RBAC allows); cluster-wide when undefined. */
  namespace?: string;
  /** Passed to the API server, which selects: kollect never filters a full list. */
  labelSelector?: string;
  fieldSelector?: string;
}

/** A page as it came, not parsed: whoever parses it (maybe another thread) checks the token it was listed with (src/kube/page/). */
export interface ListBody extends ListedPage {
  kind: 'body';
}

/** What `listBodies` yields, in order. */
export type ListBodyEvent =
  | ListBody
  /** The continue token expired: everything yielded so far for this type is void; the list starts over. */
  | { kind: 'restart'; reason: string }
  /** 403: the type cannot be listed with these credentials; nothing more comes. */
  | { kind: 'forbidden'; message: string };

export const FULL_OBJECTS = 'application/json';
export const METADATA_ONLY = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';

/**
 * Lists one resource type cluster-wide (or in one namespace), a page of `pageSize` objects at a time, and yields each
 * page unparsed, so that parsing may happen elsewhere (a list worker) while the next page is on
 * its way: the continue token is read from the page's list metadata alone (`pageContinue`). A 410
 * on a continue token restarts the list from the beginning (the caller discards what it had, so
 * nothing is counted twice), at most `relists` times; 429, 5xx and broken connections are retried
 * with backoff; 403 ends the list with a `forbidden` event.
 */
export async function* listBodies(
  client: KubeClient,
  type: Pick<DiscoveredType, 'group' | 'version' | 'resource'>,
  options: ListOptions,
  deps: RequestDeps,
): AsyncGenerator<ListBodyEvent> {
  const inNamespace = options.namespace === undefined ? '' : `/namespaces/${encodeURIComponent(options.namespace)}`;
  const base = `${groupVersionPath(type.group, type.version)}${inNamespace}/${type.resource}`;
  const accept = options.metadataOnly ? METADATA_ONLY : FULL_OBJECTS;
  const request = (token: string | undefined): Promise<KubeResponse> => {
    const query = new URLSearchParams({ limit: String(options.pageSize) });
    if (options.labelSelector !== undefined) query.set('labelSelector', options.labelSelector);
    if (options.fieldSelector !== undefined) query.set('fieldSelector', options.fieldSelector);
    if (token !== undefined) query.set('continue', token);
    return getWithRetry(client, `${base}?${query.toString()}`, accept, options, deps);
  };
  let relists = 0;
  let page = 0;
  let pending: Promise<KubeResponse> | undefined = request(undefined);
  try {
    while (pending) {
      const what = `list ${resourceTypeKey(type)}${options.namespace === undefined ? '' : ` in namespace ${options.namespace}`} (page ${page + 1})`;
      const response: KubeResponse = await pending;
      pending = undefined;

      if (response.status === 410) {
        const status = parseStatus(response);
        if (relists >= options.relists) {
          throw new ContinueExpiredError(
            `${what}: the continue token expired ${relists + 1} times; the list never completed (raise list.pageSize or list.relists)`,
            {
              resource: type.resource,
            },
          );
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

      const token = pageContinue(response.body, what, options);
      page++;
      // Ask for the next page before handing this one over: the server works while kollect projects.
      if (token !== '') pending = request(token);
      yield { kind: 'body', body: response.body, continue: token, what };
    }
  } finally {
    // The caller stopped early (an error, an abort): the prefetched page is not wanted, and its
    // failure must not surface as an unhandled rejection.
    pending?.catch(() => undefined);
  }
}
