import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { sinkConfig, type GitSinkConfig } from '../../../src/config/schema.js';
import type { Logger } from '../../../src/log.js';
import { rowChecksum } from '../../../src/rows/project.js';
import type { Row } from '../../../src/rows/row.js';
import { createGitSink, type GitSinkDeps } from '../../../src/sinks/git/git-sink.js';
import { renderShardDocument } from '../../../src/sinks/document/shard-document.js';
import type { Sink, SinkContext, SinkResult } from '../../../src/sinks/sink.js';
import type { CollectStore } from '../../../src/store/collect-store.js';
import { git, type GitServer } from '../../support/git-server.js';
import { storeOf, syntheticRows, tempDir, type BuildStoreOptions } from '../../support/store-fixture.js';

/** Shared helpers of the Git sink tests. */

export interface LogLine {
  level: string;
  message: string;
  data?: Record<string, unknown>;
}

export function captureLogger(): { log: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const at =
    (level: string) =>
    (message: string, data?: Record<string, unknown>): void => {
      lines.push({ level, message, ...(data ? { data } : {}) });
    };
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

/** A sink context; its clock stands still at the start of manualClock() unless `now` is given. */
export function context(options: { force?: boolean; signal?: AbortSignal; log?: Logger; now?: () => Date } = {}): SinkContext {
  return {
    log: options.log ?? captureLogger().log,
    signal: options.signal ?? new AbortController().signal,
    force: options.force ?? false,
    now: options.now ?? manualClock().now,
  };
}

export function gitConfig(input: Record<string, unknown>): GitSinkConfig {
  return sinkConfig.parse({ name: 'audit', type: 'git', exportMinInterval: '1h', ...input }) as GitSinkConfig;
}

/** A clock the test moves by hand. */
export interface ManualClock {
  /** The clock's current time. */
  now: () => Date;
  /** Moves the clock by `ms` (backwards when negative). */
  advance: (ms: number) => void;
}

export function manualClock(start = '2026-03-01T10:00:00Z'): ManualClock {
  let time = Date.parse(start);
  return { now: () => new Date(time), advance: (ms) => (time += ms) };
}

export const HOUR = 3_600_000;

export interface RowsOptions {
  cluster: string;
  count?: number;
  namespaces?: number;
  /** Namespaces whose rows all get a new label `rev` (content change). */
  changeNamespaces?: string[];
  revision?: number;
  /** Namespaces left out entirely (the shard vanishes). */
  dropNamespaces?: string[];
  /** Resource types (plural) left out. */
  dropResources?: string[];
}

/** Deterministic rows with changes restricted to whole namespaces. */
export function rows(options: RowsOptions): Row[] {
  const out: Row[] = [];
  for (const row of syntheticRows({ cluster: options.cluster, count: options.count ?? 400, namespaces: options.namespaces ?? 7, attributeBytes: 40 })) {
    if (options.dropNamespaces?.includes(row.namespace)) continue;
    if (options.dropResources?.includes(row.resource)) continue;
    if (options.changeNamespaces?.includes(row.namespace)) {
      row.labels = { ...row.labels, rev: String(options.revision ?? 1) };
      row.checksum = rowChecksum(row);
    }
    out.push(row);
  }
  return out;
}

export async function store(options: RowsOptions, build: BuildStoreOptions = {}): Promise<CollectStore> {
  return storeOf(options.cluster, rows(options), build);
}

/** Deps that never wait: retries back off by a fixed jitter and sleep for no time. */
const fastDeps: GitSinkDeps = { sleep: async () => undefined, random: () => 0.5 };

/** A Git sink and the mirror folder it uses. */
export interface TestSink {
  /** The sink, made by createGitSink. */
  sink: Sink;
  /** Its mirror folder (it may not exist yet). */
  mirrorDir: string;
}

/**
 * A Git sink named `audit` (see gitConfig) pushing to `remote.url`, with a new empty mirror
 * folder unless `config.mirrorDir` names one. `config` adds to or overrides the sink config;
 * `deps` adds to or overrides fastDeps.
 */
export async function gitSink(remote: { url: string }, config: Record<string, unknown> = {}, deps: GitSinkDeps = {}): Promise<TestSink> {
  const mirrorDir = typeof config.mirrorDir === 'string' ? config.mirrorDir : await tempDir('kollect-mirror-');
  return { sink: createGitSink(gitConfig({ url: remote.url, ...config, mirrorDir }), { ...fastDeps, ...deps }), mirrorDir };
}

export interface ExportedSinkOptions {
  /** Cluster of the store applied (default c1). */
  cluster?: string;
  /** Clock of the first apply (default a new manualClock()); it is returned, to move on with. */
  clock?: ManualClock;
  /** Adds to or overrides the sink config, as in gitSink. */
  config?: Record<string, unknown>;
  /** Adds to or overrides fastDeps, as in gitSink. */
  deps?: GitSinkDeps;
}

/** A sink whose mirror has applied a store once, what it applied, what that returned, and the clock it ran at. */
export interface ExportedSink extends TestSink {
  /** The clock of the first apply, not moved since. */
  clock: ManualClock;
  /** The store that was applied. */
  source: CollectStore;
  /** What that apply returned. */
  result: SinkResult;
}

/** The usual GIVEN: gitSink(remote, config, deps) that has applied `store({ cluster })` once at the clock's time. */
export async function exportedSink(remote: { url: string }, options: ExportedSinkOptions = {}): Promise<ExportedSink> {
  const clock = options.clock ?? manualClock();
  const { sink, mirrorDir } = await gitSink(remote, options.config, options.deps);
  const source = await store({ cluster: options.cluster ?? 'c1' });
  const result = await sink.apply(source, context({ now: clock.now }));
  return { sink, mirrorDir, clock, source, result };
}

/** sha256 of every file under `dir`, by relative path: to prove a folder was not touched. */
export async function hashTree(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (current: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(current, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    for (const entry of entries) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) await walk(full);
      else
        out[relative(dir, full)] = createHash('sha256')
          .update(await readFile(full))
          .digest('hex');
    }
  };
  await walk(dir);
  return out;
}

/** What the repository must hold for a store: path to renderShardDocument output, computed here independently. */
export async function expectedFiles(source: CollectStore, template = 'clusters/{cluster}/namespaces/{namespace}.json'): Promise<Map<string, string>> {
  const files = new Map<string, string>();
  for (const shard of source.shards) {
    const docRows = [];
    for await (const rows of source.readShardBatches(shard.key)) {
      for (const { cluster: _c, namespace: _n, resourceVersion: _rv, ...rest } of rows) docRows.push(rest);
    }
    files.set(
      template.replace('{cluster}', source.cluster).replace('{namespace}', shard.key),
      renderShardDocument(source.cluster, shard.key, docRows).toString('utf8'),
    );
  }
  return files;
}

/** Files of the served repository at `rev`, sorted (via the git CLI on the bare repo). */
export async function remoteFiles(server: GitServer, rev = 'main'): Promise<string[]> {
  return (await server.git(['ls-tree', '-r', '--name-only', rev])).trim().split('\n').filter(Boolean).sort();
}

/** Asserts that `main` of the served repository holds each of `files` with exactly that content. */
export async function assertRemoteHolds(server: GitServer, files: Iterable<[string, string]>): Promise<void> {
  for (const [path, content] of files) assert.equal(await server.git(['show', `main:${path}`]), content, path);
}

/** `git fsck --full --strict` of the served repository: fails on any problem, prints nothing when clean. */
export async function fsck(server: GitServer): Promise<void> {
  assert.equal((await git(['fsck', '--full', '--strict', '--no-dangling'], { cwd: server.bareDir })).trim(), '');
}
