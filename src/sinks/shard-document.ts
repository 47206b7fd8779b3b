import { posix } from 'node:path';
import { compareKeys } from '../compare.js';
import { SinkError } from '../errors.js';
import { quoted } from '../format.js';
import { canonicalJson } from '../rows/checksum.js';
import { isValidNamespace } from '../rows/object-name.js';
import { CLUSTER_SHARD, namespaceOfShard, type Row } from '../rows/row.js';
import type { CollectStore } from '../store/collect-store.js';

/**
 * The file a shard becomes in the file and Git sinks: deterministic JSON, rows sorted, one row
 * per line (small, stable diffs), without resourceVersion (it changes when nothing we keep does).
 */

/** A row as written into a shard document: the shard's cluster and namespace are in the header. */
type DocumentRow = Omit<Row, 'cluster' | 'namespace' | 'resourceVersion'>;

interface ShardDocument {
  cluster: string;
  namespace: string;
  rows: DocumentRow[];
}

/** A row's place in its document: by type, then name and uid. */
function sortKey(row: DocumentRow): string {
  return `${row.apiGroup}\u0000${row.resource}\u0000${row.name}\u0000${row.uid}`;
}

function toDocumentRow(row: Row): DocumentRow {
  const { cluster: _cluster, namespace: _namespace, resourceVersion: _rv, ...rest } = row;
  return rest;
}

export function renderShardDocument(cluster: string, shardKey: string, rows: DocumentRow[]): string {
  // Each key built once, not twice per comparison.
  const sorted = rows
    .map((row): [string, DocumentRow] => [sortKey(row), row])
    .sort(compareKeys)
    .map(([, row]) => row);
  const body = sorted.map((row) => `    ${canonicalJson(row)}`).join(',\n');
  const header = `{\n  "cluster": ${JSON.stringify(cluster)},\n  "namespace": ${JSON.stringify(namespaceOfShard(shardKey))},\n`;
  return sorted.length === 0 ? `${header}  "rows": []\n}\n` : `${header}  "rows": [\n${body}\n  ]\n}\n`;
}

/** Parses a shard document written by kollect; anything else yields undefined (never trusted). */
export function parseShardDocument(text: string): ShardDocument | undefined {
  try {
    const doc = JSON.parse(text) as Partial<ShardDocument>;
    if (typeof doc.cluster !== 'string' || typeof doc.namespace !== 'string' || !Array.isArray(doc.rows)) return undefined;
    return doc as ShardDocument;
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/**
 * Whether a file found where this cluster's vanished shards would be is this cluster's to remove.
 * The path matching the template is not proof enough (with `{cluster}-{namespace}.json`, cluster
 * a's pattern matches cluster a-b's files): the document must also name this cluster.
 */
export function isClusterDocument(text: string | undefined, cluster: string): boolean {
  return text !== undefined && parseShardDocument(text)?.cluster === cluster;
}

/**
 * Bytes of rendered documents kept per store, waiting for the second sink (see buildShardFile).
 * The Git sink starts rendering after it has opened and fetched its mirror, so it follows the
 * file sink a few documents behind: at a million rows, a quarter of this was too little to share
 * any document; this leaves room for a slower fetch.
 */
const SHARED_RENDER_BYTES = 16 << 20;

interface SharedRender {
  document: Promise<string | undefined>;
  /** Set once rendered. */
  bytes?: number;
  /** How many sinks have asked for it. */
  takes: number;
}

interface SharedRenders {
  /** How many sinks render this store's documents. */
  sinks: number;
  /** Shard key to its document, rendered or being rendered, oldest first. */
  documents: Map<string, SharedRender>;
}

const sharedRenders = new WeakMap<CollectStore, SharedRenders>();

/** The sink types that render shard documents (through buildShardFile). */
export const DOCUMENT_SINK_TYPES: ReadonlySet<string> = new Set(['file', 'git']);

/**
 * Tells buildShardFile that `sinks` sinks will render this store's documents side by side, so
 * that each document is rendered once for all of them. With fewer than two nothing is kept.
 */
export function shareShardRenderings(store: CollectStore, sinks: number): void {
  if (sinks >= 2) sharedRenders.set(store, { sinks, documents: new Map() });
}

/**
 * The new content of a shard's file. Rows of resource types whose list was incomplete are
 * carried over from the existing file (never dropped on partial data). Returns undefined when
 * the file should not exist: no rows now and nothing to carry.
 *
 * The file and Git sinks render the same document for a shard, side by side in one run: when
 * runSinks shared the store's renderings (shareShardRenderings) and nothing is carried over (the
 * document is then the store's alone), a sink that comes later takes the first one's rendering,
 * or waits for it, instead of reading and rendering the shard again. A document is dropped once
 * every sink has it, and at most SHARED_RENDER_BYTES wait: the oldest go first (rendered again if
 * asked; a sink whose export is skipped never asks).
 */
export async function buildShardFile(store: CollectStore, shardKey: string, existing: string | undefined): Promise<string | undefined> {
  const shared = sharedRenders.get(store);
  if (!shared || store.hasPartialData()) return renderShardFile(store, shardKey, existing);
  const kept = shared.documents;
  const known = kept.get(shardKey);
  if (known) {
    // Every sink that renders has it now: no one else will ask.
    if (++known.takes >= shared.sinks) kept.delete(shardKey);
    return known.document;
  }
  const entry: SharedRender = { document: renderShardFile(store, shardKey, undefined), takes: 1 };
  kept.set(shardKey, entry);
  entry.document.then(
    (document) => {
      entry.bytes = document?.length ?? 0;
      let bytes = 0;
      for (const render of kept.values()) bytes += render.bytes ?? 0;
      for (const [key, render] of kept) {
        if (bytes <= SHARED_RENDER_BYTES) break;
        if (render.bytes === undefined || key === shardKey) continue;
        kept.delete(key);
        bytes -= render.bytes;
      }
    },
    () => kept.delete(shardKey),
  );
  return entry.document;
}

async function renderShardFile(store: CollectStore, shardKey: string, existing: string | undefined): Promise<string | undefined> {
  const rows: DocumentRow[] = [];
  if (store.shard(shardKey)) {
    for await (const batch of store.readShardBatches(shardKey)) for (const row of batch) rows.push(toDocumentRow(row));
  }
  if (store.hasPartialData() && existing !== undefined) {
    const previous = parseShardDocument(existing);
    const fresh = new Set(rows.map(sortKey));
    for (const row of previous?.rows ?? []) {
      const ofIncompleteType = !store.isComplete({ group: row.apiGroup, resource: row.resource, namespace: namespaceOfShard(shardKey) });
      if (ofIncompleteType && !fresh.has(sortKey(row))) rows.push(row);
    }
  }
  if (rows.length === 0 && !store.shard(shardKey)) return undefined;
  return renderShardDocument(store.cluster, shardKey, rows);
}

/**
 * A compiled `pathTemplate` for one cluster: where each shard's file goes, and which existing
 * files belong to this cluster (only those may ever be removed).
 */
export interface ShardPathLayout {
  /**
   * Where a shard's file goes, relative to the sink's root. Throws SHARD_PATH_INVALID for a shard
   * key that is not a namespace's name (a store edited by hand: `../../x`), before anything is written.
   */
  pathFor(shardKey: string): string;
  /** The shard key a path stands for, or undefined when the path is not this cluster's. */
  shardOf(path: string): string | undefined;
  /** The longest folder prefix without placeholders: where to look for this cluster's files. */
  prefix: string;
}

const escapeRegExp = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * True when a path relative to a sink's root stays under it. Config refuses `..` in templates, so
 * with a valid shard key only a bug (or a config built without validation) would fail it.
 */
function staysUnderRoot(path: string): boolean {
  const normal = posix.normalize(path);
  return !posix.isAbsolute(normal) && normal !== '..' && !normal.startsWith('../');
}

/** `sink`: whose paths these are, for errors. */
export function shardPathLayout(template: string, cluster: string, sink: string): ShardPathLayout {
  const withCluster = template.split('{cluster}').join(cluster);
  const [before = '', ...after] = withCluster.split('{namespace}');
  const pattern = new RegExp(`^${escapeRegExp(before)}([a-z0-9]([-a-z0-9]*[a-z0-9])?|${CLUSTER_SHARD})${escapeRegExp(after.join('{namespace}'))}$`);
  const prefix = before.includes('/') ? before.slice(0, before.lastIndexOf('/')) : '';
  return {
    pathFor: (shardKey) => {
      const path = withCluster.split('{namespace}').join(shardKey);
      if ((shardKey !== CLUSTER_SHARD && !isValidNamespace(shardKey)) || !staysUnderRoot(path)) {
        throw new SinkError(
          sink,
          `shard ${quoted(shardKey)} of the collect store would be written to ${quoted(path)}, which may not be under the sink's root ` +
            `(a shard key must be a namespace's name, a DNS-1123 label, or ${CLUSTER_SHARD}): nothing is written. The store was edited or damaged: collect again to replace it`,
          { shard: shardKey, path },
          { code: 'SHARD_PATH_INVALID' },
        );
      }
      return path;
    },
    shardOf: (path) => {
      const match = pattern.exec(path);
      if (!match?.[1]) return undefined;
      // A template with {namespace} twice must give the same namespace in both places.
      return withCluster.split('{namespace}').join(match[1]) === path ? match[1] : undefined;
    },
    prefix,
  };
}
