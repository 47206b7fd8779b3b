import { createHash } from 'node:crypto';
import { compareKeys } from '../../compare.js';
import { canonicalJson } from '../../rows/checksum.js';
import { namespaceOfShard, type Row } from '../../rows/row.js';
import type { CollectStore } from '../../store/collect-store.js';

/**
 * The document a shard becomes in every document sink (file, Git): deterministic JSON, rows sorted, one row
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

/** Keys in sorted order: canonicalJson then serializes the row natively (isCanonical). */
function toDocumentRow(row: Row): DocumentRow {
  return {
    apiGroup: row.apiGroup,
    apiVersion: row.apiVersion,
    attributes: row.attributes,
    checksum: row.checksum,
    createdAt: row.createdAt,
    kind: row.kind,
    labels: row.labels,
    name: row.name,
    resource: row.resource,
    uid: row.uid,
  };
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
 * A shard's document as the store gives it. Rows of resource types whose list was incomplete are
 * carried over from `existing`, the document there now (never dropped on partial data). Undefined
 * when the document should not exist: no rows now and nothing to carry.
 */
export async function buildShardDocument(store: CollectStore, shardKey: string, existing: string | undefined): Promise<string | undefined> {
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

/** A document's SHA-256 (hex): its version in the file and S3 sinks. */
export const documentSha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
