import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { rowChecksum } from '../../src/rows/project.js';
import { shardKeyOf, type Row } from '../../src/rows/row.js';
import { CollectStore } from '../../src/store/collect-store.js';
import { jsonLineChars, spoolLineOf } from '../../src/store/spool-line.js';
import { SpoolPageBuilder, type SpoolPage } from '../../src/store/spool-page.js';
import { StoreWriter, type SpooledType, type DiscoveryRecord } from '../../src/store/store-writer.js';

/** The resource types synthetic rows are spread over. */
export const SYNTHETIC_TYPES: SpooledType[] = [
  { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true, profile: 'pod', metadataOnly: false },
  { group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap', namespaced: true, profile: 'metadata', metadataOnly: true },
  { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment', namespaced: true, profile: 'deployment', metadataOnly: false },
  { group: '', version: 'v1', resource: 'nodes', kind: 'Node', namespaced: false, profile: 'node', metadataOnly: false },
];

export interface SyntheticOptions {
  cluster: string;
  /** Number of objects before removals. */
  count: number;
  namespaces?: number;
  /** Objects whose content changes (a label `rev` set to `revision`). */
  changedFraction?: number;
  removedFraction?: number;
  /** Distinguishes one round of changes from the next. */
  revision?: number;
  /** Approximate size of each row's attributes in bytes. */
  attributeBytes?: number;
}

/** A small deterministic hash in [0, 1) for choosing which objects change. */
function unit(index: number, salt: number): number {
  let h = (index * 2654435761 + salt * 40503) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 2246822507) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 3266489909) >>> 0;
  return ((h ^ (h >>> 16)) >>> 0) / 4294967296;
}

/**
 * Deterministic rows: object i always has the same identity, so a second call with
 * changedFraction/removedFraction changes exactly the objects a test expects.
 *
 * Each type's rows of a namespace come in name order (the number in a name is zero-padded), as
 * an API server lists them (etcd key order) and as a collected store holds them. The order
 * matters to a first export: the primary key's index takes rows in name order at about 0.6 of
 * its size (8.7 MB against 14 MB per 100,000 rows) and the COPY about a sixth less time (bench:pg's
 * first export: 0.79 s against 0.95 s) than in the scrambled order that unpadded numbers gave
 * (`pod-1280` before `pod-320`).
 */
export function* syntheticRows(options: SyntheticOptions): Generator<Row> {
  const namespaces = options.namespaces ?? 20;
  const filler = 'x'.repeat(options.attributeBytes ?? 200);
  for (let i = 0; i < options.count; i++) {
    if (options.removedFraction && unit(i, 7) < options.removedFraction) continue;
    const type = SYNTHETIC_TYPES[i % SYNTHETIC_TYPES.length]!;
    const changed = options.changedFraction !== undefined && unit(i, 13) < options.changedFraction;
    const row: Row = {
      cluster: options.cluster,
      namespace: type.namespaced ? `ns-${String(i % namespaces).padStart(3, '0')}` : '',
      name: `${type.resource.slice(0, -1)}-${String(i).padStart(7, '0')}`,
      uid: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      apiGroup: type.group,
      apiVersion: type.version,
      kind: type.kind,
      resource: type.resource,
      labels: { app: `app-${i % 50}`, ...(changed ? { rev: String(options.revision ?? 1) } : {}) },
      // In name order, as the collector builds them (attributeGetters).
      attributes: { note: filler, phase: 'Running' },
      createdAt: '2026-01-01T00:00:00Z',
      resourceVersion: String(1000 + i),
      checksum: '',
    };
    row.checksum = rowChecksum(row);
    yield row;
  }
}

/** Rows as the spool stores them: per shard, each row's spool line, its checksum and its JSON line's length. */
export function spoolPageOf(rows: Iterable<Row>): SpoolPage {
  const page = new SpoolPageBuilder();
  for (const row of rows) page.add(shardKeyOf(row.namespace), spoolLineOf(row), row.checksum, jsonLineChars(row));
  return page.build();
}

export interface BuildStoreOptions {
  /** Resource types (by plural) to mark incomplete, with the reason. */
  incomplete?: Record<string, 'forbidden' | 'error' | 'interrupted'>;
  /** Resource types (by plural) listed namespace by namespace, with the namespaces whose lists were forbidden. */
  forbiddenNamespaces?: Record<string, string[]>;
  /** Resource types (by plural) the store does not list at all (not served, excluded): their rows are dropped. */
  unlisted?: string[];
  /** What discovery resolved; by default the synthetic types are the whole scope and nothing went wrong. */
  discovery?: Partial<DiscoveryRecord>;
}

/** Writes rows into a new collect store through the real writer and opens it. */
export async function buildStore(dir: string, cluster: string, rows: Iterable<Row>, options: BuildStoreOptions = {}): Promise<CollectStore> {
  const writer = await StoreWriter.create(dir, cluster);
  const spools = new Map(SYNTHETIC_TYPES.filter((t) => !options.unlisted?.includes(t.resource)).map((t) => [t.resource, writer.spool(t)]));
  let page: Row[] = [];
  let pageType = '';
  const flush = async (): Promise<void> => {
    if (page.length > 0) await spools.get(pageType)?.addPage(spoolPageOf(page));
    page = [];
  };
  for (const row of rows) {
    if (row.resource !== pageType || page.length >= 500) {
      await flush();
      pageType = row.resource;
    }
    page.push(row);
  }
  await flush();
  for (const [resource, spool] of spools) {
    const reason = options.incomplete?.[resource];
    const forbidden = options.forbiddenNamespaces?.[resource];
    if (reason) await spool.incomplete(reason, `${resource}: ${reason} (test)`);
    else if (forbidden) await spool.incomplete('forbidden', `${resource}: forbidden in ${forbidden.join(', ')} (test)`, forbidden);
    else await spool.complete();
  }
  await writer.finish({
    scope: SYNTHETIC_TYPES.map(({ group, resource }) => ({ group, resource })),
    notServed: [],
    discoveryFailed: [],
    ...options.discovery,
  });
  return CollectStore.open(dir);
}

/** Writes rows into a new collect store in a temporary folder and opens it. */
export async function storeOf(cluster: string, rows: Iterable<Row>, options: BuildStoreOptions = {}): Promise<CollectStore> {
  return buildStore(join(await tempDir(), 'store'), cluster, rows, options);
}

/** Synthetic rows written into a new store in a temporary folder: the rows, the folder and the opened store. */
export async function syntheticStore(options: SyntheticOptions): Promise<{ rows: Row[]; dir: string; store: CollectStore }> {
  const rows = [...syntheticRows(options)];
  const store = await storeOf(options.cluster, rows);
  return { rows, dir: store.dir, store };
}

/** Everything an async iterable yields (Array.fromAsync, which Node 20 lacks). */
export async function collectAll<T>(items: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of items) out.push(item);
  return out;
}

export async function tempDir(prefix = 'kollect-test-'): Promise<string> {
  return mkdtemp(join(tmpdir(), prefix));
}
