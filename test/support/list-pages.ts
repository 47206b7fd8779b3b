import type { KubeClient } from '../../src/kube/client.js';
import type { DiscoveredType } from '../../src/kube/discovery.js';
import { parsePage, type ListedPage, type PageParseOptions } from '../../src/kube/page/parse-page.js';
import { listBodies, type ListBody, type ListBodyEvent, type ListOptions } from '../../src/kube/pager.js';
import type { RequestDeps } from '../../src/kube/request.js';
import type { KubeObject } from '../../src/rows/project.js';

/** A page's items, as a list parses them (`parsePage`'s, without what the row encoder is told); the fast way unless told. */
export function parseListBody(page: ListedPage, options: PageParseOptions = { fastParse: true }): KubeObject[] {
  return parsePage(page, options).items;
}

/** What `listPages` yields, in order: the pager's events, with each page parsed to its objects. */
export type ListEvent = { kind: 'page'; items: KubeObject[] } | Exclude<ListBodyEvent, ListBody>;

/** Lists one type with the pager and parses each page as it comes, so tests can look at the objects. */
export async function* listPages(client: KubeClient, type: DiscoveredType, options: ListOptions, deps: RequestDeps): AsyncGenerator<ListEvent> {
  for await (const event of listBodies(client, type, options, deps)) {
    yield event.kind === 'body' ? { kind: 'page', items: parseListBody(event, options) } : event;
  }
}
