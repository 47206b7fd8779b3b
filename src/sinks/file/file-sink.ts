import { readdir, readFile, rm } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../../fs/write-file-atomic.js';
import type { FileSinkConfig } from '../../config/schema.js';
import { InterruptedError, SinkError, KollectError } from '../../errors.js';
import type { CollectStore } from '../../store/collect-store.js';
import { FileChanges, fileAction, type FileAction } from '../file-changes.js';
import { buildShardFile, isClusterDocument, shardPathLayout, type ShardPathLayout } from '../shard-document.js';
import { withDuration, type Sink, type SinkContext, type SinkPlan } from '../sink.js';

/** Fingerprints of what was last written, per cluster, so unchanged shards are not even read. */
interface FileSinkState {
  pathTemplate: string;
  shards: Record<string, string>;
}

interface ShardAction {
  shard: string;
  path: string;
  action: FileAction;
  /** New content for add/change. */
  content?: string;
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
 * The file sink: one deterministic JSON file per shard under `dir`, at `pathTemplate`.
 * Unchanged shards are skipped by fingerprint without being read; changed files are replaced
 * atomically; files of vanished shards are removed, but only this cluster's.
 */
export function createFileSink(config: FileSinkConfig): Sink {
  const root = resolve(config.dir);

  async function loadState(cluster: string): Promise<FileSinkState | undefined> {
    const text = await readIfExists(join(root, STATE_DIR, `${cluster}.json`));
    if (text === undefined) return undefined;
    const state = JSON.parse(text) as FileSinkState;
    return state.pathTemplate === config.pathTemplate ? state : undefined;
  }

  /** Decides, shard by shard, what an export does; yields one action at a time (bounded memory). */
  async function* actions(store: CollectStore, layout: ShardPathLayout, state: FileSinkState | undefined, signal: AbortSignal): AsyncGenerator<ShardAction> {
    const carryOver = store.hasPartialData();
    const current = new Set(store.shards.map((s) => s.key));
    /** Renders a shard's file; rows of types listed incompletely are carried over from `existing`. */
    const rendered = async (shard: string, path: string, existing: string | undefined): Promise<ShardAction | undefined> => {
      const content = await buildShardFile(store, shard, existing);
      const action = fileAction(existing, content);
      return action && { shard, path, action, content };
    };
    for (const shard of store.shards) {
      if (signal.aborted) throw new InterruptedError('file export interrupted');
      const path = layout.pathFor(shard.key);
      const existing = await readIfExists(join(root, path));
      if (!carryOver && existing !== undefined && state?.shards[shard.key] === shard.fingerprint) {
        yield { shard: shard.key, path, action: 'unchanged' };
        continue;
      }
      const step = await rendered(shard.key, path, existing);
      if (step) yield step;
    }
    for await (const path of walk(root, join(root, layout.prefix))) {
      const shard = layout.shardOf(path);
      if (shard === undefined || current.has(shard)) continue;
      const existing = await readIfExists(join(root, path));
      // Only this cluster's own files: another cluster's may match the path template too.
      if (!isClusterDocument(existing, store.cluster)) continue;
      // A vanished shard may still hold rows of a type whose list was incomplete: keep those.
      const step = await rendered(shard, path, existing);
      if (step) yield step;
    }
  }

  async function run(store: CollectStore, ctx: SinkContext, write: boolean): Promise<SinkPlan> {
    const layout = shardPathLayout(config.pathTemplate, store.cluster, config.name);
    // Every shard's path is checked (pathFor: it stays under the root) before the first write: a
    // store with a bad shard key changes nothing.
    for (const shard of store.shards) layout.pathFor(shard.key);
    const state = await loadState(store.cluster);
    const files = new FileChanges();
    const written: Record<string, string> = {};
    for await (const step of actions(store, layout, state, ctx.signal)) {
      files.record(step.shard, step.path, step.action);
      if (!write) continue;
      const target = join(root, step.path);
      if (step.action === 'remove') await rm(target, { force: true });
      else if (step.content !== undefined && step.action !== 'unchanged') await writeFileAtomic(target, step.content);
    }
    if (write) {
      // A file that carries rows over holds more than the shard's fingerprint says: the next run must render it again.
      if (!store.hasPartialData()) for (const shard of store.shards) written[shard.key] = shard.fingerprint;
      const next: FileSinkState = { pathTemplate: config.pathTemplate, shards: written };
      await writeFileAtomic(join(root, STATE_DIR, `${store.cluster}.json`), `${JSON.stringify(next, null, 2)}\n`);
    }
    const totals = files.totals;
    return {
      sink: config.name,
      type: 'file',
      unit: 'files',
      ...(totals.added + totals.changed + totals.removed === 0 ? { skipped: { reason: 'unchanged' as const, message: 'no shard changed' } } : {}),
      totals,
      shards: files.shards,
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
    plan: (store, ctx) => wrap(() => run(store, ctx, false)),
    apply: (store, ctx) => wrap(() => withDuration(() => run(store, ctx, true))),
    close: async () => undefined,
  };
}
