import type { KubeClient } from '../kube/client.js';
import type { DiscoveredType } from '../kube/discovery.js';
import { parsePage, type ListedPage, type PageParseOptions } from '../kube/page/parse-page.js';
import { listBodies, type ListBody, type ListBodyEvent, type ListOptions } from '../kube/pager.js';
import type { RequestDeps } from '../kube/request.js';
import { invalidObject } from '../rows/object-name.js';
import { isMetadataOnly, readsManagedFields, type Profile } from '../rows/profiles/profile.js';
import type { SpoolPage } from '../store/spool-page.js';
import type { KubeObject, ProjectedType } from '../rows/project.js';
import { createPageEncoder } from './row-encoder.js';

/** An object refused at collection because its namespace, name or creationTimestamp is not valid (src/rows/object-name.ts). */
export interface RefusedObject {
  namespace: string;
  name: string;
  /** Which rule it breaks. */
  reason: string;
}

/** One page's rows, ready for the spool. */
export interface EncodedPage {
  page: SpoolPage;
  rows: number;
  /** Objects of the page left out: their type is incomplete (nothing of it is deleted). */
  refused: RefusedObject[];
}

/** What a type's list yields to the spool, in list order: the pager's events, with each page encoded. */
export type SpoolEvent = ({ kind: 'page' } & EncodedPage) | Exclude<ListBodyEvent, ListBody>;

/** Turns a page as it came from the API server into rows: here, or in a list worker. */
export type BodyEncoder = (body: ListBody) => EncodedPage | Promise<EncodedPage>;

/**
 * The per-page work of one type, the same on whichever thread it runs: parse the page (checking
 * its continue token; the fast way, unless `fastParse` is false, leaves out a metadata-only
 * page's managedFields unless the profile reads them), refuse objects whose namespace, name or
 * creation time a real API server would not serve (on every path, list worker or not, before
 * anything of them is spooled), project each object, serialize and checksum each row.
 */
export function pageWork(cluster: string, type: ProjectedType, profile: Profile, fastParse: boolean): (page: ListedPage) => EncodedPage {
  const encode = createPageEncoder(cluster, type, profile);
  const parse: PageParseOptions = { fastParse, withoutManagedFields: isMetadataOnly(profile) && !readsManagedFields(profile) };
  return (page) => {
    const { items, plainStrings } = parsePage(page, parse);
    const { valid, refused } = refuseInvalidObjects(items);
    return { page: encode(valid, plainStrings), rows: valid.length, refused };
  };
}

/** The valid objects (the page's own array when all are), and those refused. */
function refuseInvalidObjects(items: KubeObject[]): { valid: KubeObject[]; refused: RefusedObject[] } {
  const refused: RefusedObject[] = [];
  let valid = items;
  for (let i = 0; i < items.length; i++) {
    const item = items[i]!;
    // A hostile server may send any JSON as an item (`null`, a number): refused as nameless, not a crash.
    const metadata = (item as KubeObject | null | undefined)?.metadata ?? {};
    const reason = invalidObject(metadata);
    if (reason === undefined) {
      if (valid !== items) valid.push(item);
      continue;
    }
    if (valid === items) valid = items.slice(0, i);
    refused.push({ namespace: String(metadata.namespace ?? ''), name: String(metadata.name ?? ''), reason });
  }
  return { valid, refused };
}

/**
 * Lists one type and encodes its pages with `encode`, up to `depth` pages at once (list workers
 * encode several pages of one list side by side), and yields the events strictly in list order:
 * a restart comes after every page before it, an error after the pages that preceded it, as
 * when one thread did everything. Holds at most `depth` pages waiting, besides the one being
 * spooled and the one the pager prefetches.
 */
export async function* listRows(
  client: KubeClient,
  type: DiscoveredType,
  options: ListOptions,
  deps: RequestDeps,
  encode: BodyEncoder,
  depth: number,
): AsyncGenerator<SpoolEvent> {
  // Ends this list's requests when the caller stops early, not only when the run is aborted.
  const stop = new AbortController();
  const pager = listBodies(client, type, options, { ...deps, signal: AbortSignal.any([deps.signal, stop.signal]) });
  const queue: Array<Promise<SpoolEvent>> = [];
  let ended: { error?: unknown; failed: boolean } | undefined;
  let wakeConsumer: (() => void) | undefined;
  let wakeProducer: (() => void) | undefined;

  const produce = async (): Promise<void> => {
    try {
      for await (const event of pager) {
        const next: Promise<SpoolEvent> =
          event.kind === 'body'
            ? Promise.resolve()
                .then(() => encode(event))
                .then((encoded) => ({ kind: 'page', ...encoded }))
            : Promise.resolve(event);
        next.catch(() => undefined); // surfaced in order by the consumer, not as an unhandled rejection
        queue.push(next);
        wakeConsumer?.();
        while (queue.length >= depth && !stop.signal.aborted) await new Promise<void>((resolve) => (wakeProducer = resolve));
        if (stop.signal.aborted) return;
      }
      ended = { failed: false };
    } catch (error) {
      ended = { error, failed: true };
    } finally {
      wakeConsumer?.();
    }
  };

  const producing = produce();
  try {
    for (;;) {
      const head = queue.shift();
      if (head === undefined) {
        if (ended?.failed) throw ended.error;
        if (ended) return;
        await new Promise<void>((resolve) => (wakeConsumer = resolve));
        continue;
      }
      const event = await head;
      wakeProducer?.();
      yield event;
    }
  } finally {
    stop.abort();
    wakeProducer?.();
    await producing;
  }
}
