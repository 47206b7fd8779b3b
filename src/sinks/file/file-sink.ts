import { readdir, readFile, rm } from 'node:fs/promises';
import { join, relative, resolve, sep } from 'node:path';
import { writeFileAtomic } from '../../fs/write-file-atomic.js';
import type { FileSinkConfig } from '../../config/schema.js';
import { InterruptedError, SinkError, KollectError } from '../../errors.js';
import type { CollectStore } from '../../store/collect-store.js';
import { buildShardFile, isClusterDocument, shardPathLayout } from '../shard-document.js';
import { addCounts, emptyCounts, type ShardChange, type Sink, type SinkContext, type SinkPlan, type SinkResult } from '../sink.js';

/** Fingerprints of what was last written, per cluster, so unchanged shards are not even read. */
interface FileSinkState {
  pathTemplate: string;
  shards: Record<string, string>;
}

type Action = 'add' | 'change' | 'remove' | 'unchanged';

interface ShardAction {
  shard: string;
  path: string;
  action: Action;
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

const COUNT_OF: Record<Action, keyof ReturnType<typeof emptyCounts>> = { add: 'added', change: 'changed', remove: 'removed', unchanged: 'unchanged' };

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
  async function* actions(store: CollectStore, state: FileSinkState | undefined, signal: AbortSignal): AsyncGenerator<ShardAction> {
    const layout = shardPathLayout(config.pathTemplate, store.cluster);
    const carryOver = store.incompleteResources().length > 0;
    const current = new Set(store.shards.map((s) => s.key));
    for (const shard of store.shards) {
      if (signal.aborted) throw new InterruptedError('file export interrupted');
      const path = layout.pathFor(shard.key);
      const existing = await readIfExists(join(root, path));
      if (!carryOver && existing !== undefined && state?.shards[shard.key] === shard.fingerprint) {
        yield { shard: shard.key, path, action: 'unchanged' };
        continue;
      }
      const content = (await buildShardFile(store, shard.key, existing)) ?? '';
      const action: Action = existing === undefined ? 'add' : existing === content ? 'unchanged' : 'change';
      yield { shard: shard.key, path, action, content };
    }
    for await (const path of walk(root, join(root, layout.prefix))) {
      const shard = layout.shardOf(path);
      if (shard === undefined || current.has(shard)) continue;
      const existing = await readIfExists(join(root, path));
      // Only this cluster's own files: another cluster's may match the path template too.
      if (!isClusterDocument(existing, store.cluster)) continue;
      // A vanished shard may still hold rows of a type whose list was incomplete: keep those.
      const content = await buildShardFile(store, shard, existing);
      if (content === undefined || content === existing) yield { shard, path, action: content === undefined ? 'remove' : 'unchanged' };
      else yield { shard, path, action: 'change', content };
    }
  }

  async function run(store: CollectStore, ctx: SinkContext, write: boolean): Promise<SinkPlan> {
    const state = await loadState(store.cluster);
    const totals = emptyCounts();
    const shards: ShardChange[] = [];
    const written: Record<string, string> = {};
    for await (const step of actions(store, state, ctx.signal)) {
      const counts = emptyCounts();
      counts[COUNT_OF[step.action]] = 1;
      shards.push({ shard: step.shard, path: step.path, counts });
      addCounts(totals, counts);
      if (!write) continue;
      const target = join(root, step.path);
      if (step.action === 'remove') await rm(target, { force: true });
      else if (step.content !== undefined && step.action !== 'unchanged') await writeFileAtomic(target, step.content);
    }
    if (write) {
      for (const shard of store.shards) written[shard.key] = shard.fingerprint;
      const next: FileSinkState = { pathTemplate: config.pathTemplate, shards: written };
      await writeFileAtomic(join(root, STATE_DIR, `${store.cluster}.json`), `${JSON.stringify(next, null, 2)}\n`);
    }
    return {
      sink: config.name,
      type: 'file',
      unit: 'files',
      ...(totals.added + totals.changed + totals.removed === 0 ? { skipped: { reason: 'unchanged' as const, message: 'no shard changed' } } : {}),
      totals,
      shards,
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
    apply: (store, ctx) =>
      wrap(async (): Promise<SinkResult> => {
        const started = Date.now();
        const plan = await run(store, ctx, true);
        return { ...plan, durationMs: Date.now() - started };
      }),
    close: async () => undefined,
  };
}
