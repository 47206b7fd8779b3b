import { compareKeys } from '../../compare.js';
import type { CollectStore } from '../../store/collect-store.js';
import { FileChanges, fileAction } from './file-changes.js';
import { buildShardDocument, isClusterDocument } from './shard-document.js';
import type { ShardPathLayout } from './shard-path.js';
import type { DocumentClaim } from './shared-renders.js';

/**
 * The shard loop every document sink (file, Git) shares: which documents an export adds,
 * changes, keeps and removes, decided shard by shard with one document in memory at a time.
 * Backends differ only in where documents are and how they are written.
 */

/** What a shard's document held after the last successful export, kept in the sink's own state. */
export interface DocumentMemo {
  /** The store fingerprint of the shard's rows. */
  fingerprint: string;
  /** The document's version (DocumentBackend.versionOf): equal version and fingerprint mean it is up to date. */
  version: string;
}

/** Where a sink's documents are, as the shard loop reads them. */
export interface DocumentBackend {
  /**
   * This cluster's documents as the export finds them: path (under the layout's prefix) to
   * version. Paths that are not this cluster's shards by the layout are ignored.
   */
  existing: ReadonlyMap<string, string>;
  /** The text of a document listed in `existing`. */
  read(path: string, version: string): Promise<string>;
  /** The version a document of these bytes has: equal exactly when the bytes are (a content hash). */
  versionOf(bytes: Buffer): string;
}

/** A document an export writes or removes, as decided. */
export interface DocumentChange {
  shard: string;
  path: string;
  action: 'add' | 'change' | 'remove';
  /** add and change: the new document's bytes and version. */
  bytes?: Buffer;
  version?: string;
  /** The document as it was, when read (rows carried over, or `readBefore`). */
  before?: string;
}

export interface CompareOptions {
  layout: ShardPathLayout;
  /** Memos of the last export (DocumentMemo), by shard key: a shard whose memo still holds is not rendered. */
  memos: Readonly<Record<string, DocumentMemo>>;
  /**
   * Called for each document to add, change or remove, in order, as it is decided (apply()); a
   * plan passes none and writes nothing.
   */
  write?: ((change: DocumentChange) => Promise<void>) | undefined;
  /** Read each changed document's text before `write` (the Git sink counts the rows that change). */
  readBefore?: boolean;
  /** Throws when the export must stop (SIGTERM). */
  checkAbort: () => void;
  /** The sink's share of the run's rendered documents; released when the loop is done. */
  claim?: DocumentClaim | undefined;
  /** Told of each document that matches the layout but names another cluster (it is left alone). */
  onForeign?: (path: string) => void;
}

export interface DocumentComparison {
  files: FileChanges;
  /** Memos after the export, for the sink's state. */
  memos: Record<string, DocumentMemo>;
  /** How many documents are added, changed or removed. */
  changes: number;
}

/**
 * Compares the store with a backend's documents: skips shards whose fingerprint and document
 * are as last exported (not even read), renders the others (rows of incompletely listed types
 * carried over from the document there), and removes documents of vanished shards, this
 * cluster's only (a vanished shard's rows of incomplete types stay).
 */
export async function compareDocuments(store: CollectStore, backend: DocumentBackend, options: CompareOptions): Promise<DocumentComparison> {
  const carryOver = store.hasPartialData();
  // Carried-over documents differ per sink: none is shared, and none is held for this one.
  const claim = carryOver ? undefined : options.claim;
  if (carryOver) options.claim?.release();
  const result: DocumentComparison = { files: new FileChanges(), memos: {}, changes: 0 };

  /** Renders one shard's document (`known`: its text there, when already read) and decides what happens to it. */
  const render = async (shard: string, path: string, version: string | undefined, known?: string): Promise<void> => {
    const needsText = version !== undefined && (carryOver || (options.write !== undefined && options.readBefore === true));
    const before = known ?? (needsText ? await backend.read(path, version) : undefined);
    const bytes = carryOver ? await buildShardDocument(store, shard, before) : await (claim?.take(shard) ?? buildShardDocument(store, shard, undefined));
    const newVersion = bytes && backend.versionOf(bytes);
    const action = fileAction(version, newVersion);
    if (action === undefined) return;
    const entry = store.shard(shard);
    // A document that carries rows over holds more than the shard's fingerprint says: never a memo to skip it by.
    if (entry && newVersion && !carryOver) result.memos[shard] = { fingerprint: entry.fingerprint, version: newVersion };
    result.files.record(shard, path, action);
    if (action === 'unchanged') return;
    result.changes++;
    const change: DocumentChange = { shard, path, action, ...(before === undefined ? {} : { before }) };
    if (bytes && newVersion) Object.assign(change, { bytes, version: newVersion });
    await options.write?.(change);
  };

  try {
    const current = new Set<string>();
    for (const shard of store.shards) {
      options.checkAbort();
      current.add(shard.key);
      const path = options.layout.pathFor(shard.key);
      const version = backend.existing.get(path);
      const memo = options.memos[shard.key];
      // Same rows as last time and the document still holds what was written then: not even read.
      if (!carryOver && version !== undefined && memo?.fingerprint === shard.fingerprint && memo.version === version) {
        result.memos[shard.key] = memo;
        result.files.record(shard.key, path, 'unchanged');
        continue;
      }
      await render(shard.key, path, version);
    }
    claim?.release();
    // Documents of shards that vanished: only this cluster's own, never anything else.
    for (const [path, version] of [...backend.existing].sort(compareKeys)) {
      const shard = options.layout.shardOf(path);
      if (shard === undefined || current.has(shard)) continue;
      options.checkAbort();
      const text = await backend.read(path, version);
      if (!isClusterDocument(text, store.cluster)) {
        options.onForeign?.(path);
        continue;
      }
      await render(shard, path, version, text);
    }
    return result;
  } finally {
    claim?.release();
  }
}
