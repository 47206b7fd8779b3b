import { readdir, readFile, rm } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../../fs/write-file-atomic.js';
import type { FileSinkConfig } from './config.js';
import { InterruptedError, SinkError, KollectError } from '../../errors.js';
import type { CollectStore } from '../../store/collect-store.js';
import { compareDocuments, type DocumentBackend, type DocumentMemo } from '../document/compare-documents.js';
import { documentSha256 } from '../document/shard-document.js';
import { shardPathLayout, type ShardPathLayout } from '../document/shard-path.js';
import { withDuration, type Sink, type SinkContext, type SinkPlan } from '../sink.js';

/** What was last written, per cluster, so unchanged shards are not even rendered. */
interface FileSinkState {
  pathTemplate: string;
  shards: Record<string, DocumentMemo>;
}

const STATE_DIR = '.kollect';

async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** Every file below `dir`, as paths relative to `root` with `/` separators. */
async function* walk(root: string, dir: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw error;
  }
  for (const entry of entries) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== STATE_DIR) yield* walk(root, full);
    } else if (entry.isFile()) {
      yield relative(root, full).split(sep).join('/');
    }
  }
}

/**
 * The file sink: one deterministic JSON file per shard under `dir`, at `pathTemplate`, a backend
 * of the document engine (compareDocuments). Changed files are replaced atomically; files of
 * vanished shards are removed, but only this cluster's.
 */
export function createFileSink(config: FileSinkConfig): Sink {
  const root = resolve(config.dir);
  const statePath = (cluster: string): string => join(root, STATE_DIR, `${cluster}.json`);

  async function loadState(cluster: string): Promise<FileSinkState | undefined> {
    const text = await readIfExists(statePath(cluster));
    if (text === undefined) return undefined;
    const state = JSON.parse(text) as FileSinkState;
    return state.pathTemplate === config.pathTemplate ? state : undefined;
  }

  /** This cluster's shard files under the layout's prefix, by their content's hash. */
  async function backend(layout: ShardPathLayout): Promise<DocumentBackend> {
    const existing = new Map<string, string>();
    for await (const path of walk(root, join(root, layout.prefix))) {
      if (layout.shardOf(path) === undefined) continue;
      existing.set(path, documentSha256(await readFile(join(root, path))));
    }
    return { existing, read: (path) => readFile(join(root, path), 'utf8'), versionOf: documentSha256 };
  }

  async function run(store: CollectStore, ctx: SinkContext, write: boolean): Promise<SinkPlan> {
    const layout = shardPathLayout(config.pathTemplate, store.cluster, config.name);
    // Every shard's path is checked (pathFor: it stays under the root) before the first write: a
    // store with a bad shard key changes nothing.
    for (const shard of store.shards) layout.pathFor(shard.key);
    const state = await loadState(store.cluster);
    const compared = await compareDocuments(store, await backend(layout), {
      layout,
      memos: state?.shards ?? {},
      checkAbort: () => {
        if (ctx.signal.aborted) throw new InterruptedError('file export interrupted');
      },
      claim: ctx.documents,
      write: write
        ? (change) => (change.bytes === undefined ? rm(join(root, change.path), { force: true }) : writeFileAtomic(join(root, change.path), change.bytes))
        : undefined,
    });
    if (write) {
      const next: FileSinkState = { pathTemplate: config.pathTemplate, shards: compared.memos };
      await writeFileAtomic(statePath(store.cluster), `${JSON.stringify(next, null, 2)}\n`);
    }
    return {
      sink: config.name,
      type: 'file',
      unit: 'files',
      ...(compared.changes === 0 ? { skipped: { reason: 'unchanged' as const, message: 'no shard changed' } } : {}),
      totals: compared.files.totals,
      shards: compared.files.shards,
    };
  }

  const wrap = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof KollectError) throw error;
      throw new SinkError(config.name, `cannot write under ${root}: ${(error as Error).message}`, { dir: root }, { cause: error });
    }
  };

  return {
    name: config.name,
    type: 'file',
    sharesDocuments: true,
    plan: (store, ctx) => wrap(() => run(store, ctx, false)),
    apply: (store, ctx) => wrap(() => withDuration(() => run(store, ctx, true))),
    close: async () => undefined,
  };
}
