import { createHash } from 'node:crypto';
import { namespaceOfShard } from '../../rows/row.js';
import type { CollectStore } from '../../store/collect-store.js';
import { DocumentRows, sortKey, type DocumentRow } from './document-render.js';

/**
 * The document a shard becomes in every document sink (file, Git, S3), as src/sinks/document/document-render.ts
 * writes it.
 */

interface ShardDocument {
  cluster: string;
  namespace: string;
  rows: DocumentRow[];
}

/** The document of rows given as such (a test's expectation, a change summary). */
export function renderShardDocument(cluster: string, shardKey: string, rows: readonly DocumentRow[]): Buffer {
  const document = new DocumentRows();
  for (const row of rows) document.addRow(row);
  return document.render(cluster, shardKey);
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
export async function buildShardDocument(store: CollectStore, shardKey: string, existing: string | undefined): Promise<Buffer | undefined> {
  const rows = new DocumentRows();
  const namespace = namespaceOfShard(shardKey);
  if (store.shard(shardKey)) {
    for await (const { type, bytes } of store.readShardSegments(shardKey))
      rows.addSpool(bytes, type, store.canonicalSpoolJson, store.lineParser(shardKey, type));
  }
  if (store.hasPartialData() && existing !== undefined) {
    const previous = parseShardDocument(existing);
    const fresh = rows.keys();
    for (const row of previous?.rows ?? []) {
      const ofIncompleteType = !store.isComplete({ group: row.apiGroup, resource: row.resource, namespace });
      if (ofIncompleteType && !fresh.has(sortKey(row))) rows.addRow(row);
    }
  }
  if (rows.size === 0 && !store.shard(shardKey)) return undefined;
  return rows.render(store.cluster, shardKey);
}

/** A document's SHA-256 (hex): its version in the file and S3 sinks. */
export const documentSha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');
