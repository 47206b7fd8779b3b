/**
 * Git sink benchmark (`npm run bench:git`): a 100,000-row store of about 60 shards exported by
 * kollect to a repository served by `git http-backend`, against the git CLI committing and
 * pushing the same files to a second served repository (clone, write files, `git add -A`,
 * commit, push over HTTP). Prints each time, the kollect/CLI ratio, peak RSS and the requests
 * of an unchanged export, with PASS/MISS per target.
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { sinkConfig, type GitSinkConfig } from '../src/config/schema.js';
import { silentLogger } from '../src/log.js';
import { rowChecksum } from '../src/rows/project.js';
import type { Row } from '../src/rows/row.js';
import { createGitSink } from '../src/sinks/git/git-sink.js';
import { buildShardFile, shardPathLayout } from '../src/sinks/shard-document.js';
import type { SinkContext, SinkResult } from '../src/sinks/sink.js';
import type { CollectStore } from '../src/store/collect-store.js';
import { git, startGitServer } from '../test/support/git-server.js';
import { buildStore, syntheticRows, tempDir } from '../test/support/store-fixture.js';

const CLUSTER = 'bench';
const ROWS = 100_000;
/**
 * 61, not 60: syntheticRows picks the type by `i % 4`, so with a namespace count divisible by 4
 * a quarter of the namespaces would hold only cluster-scoped objects and never exist (46 shards).
 * 61 namespaces give 62 shards (with `_cluster`).
 */
const NAMESPACES = 61;
const CHANGED = ['ns-001', 'ns-002', 'ns-003'];
const TEMPLATE = 'clusters/{cluster}/namespaces/{namespace}.json';

function* benchRows(changed: string[]): Generator<Row> {
  for (const row of syntheticRows({ cluster: CLUSTER, count: ROWS, namespaces: NAMESPACES })) {
    if (changed.includes(row.namespace)) {
      row.labels = { ...row.labels, rev: '2' };
      row.checksum = rowChecksum(row);
    }
    yield row;
  }
}

const ctx = (force: boolean): SinkContext => ({ log: silentLogger, signal: new AbortController().signal, force, now: () => new Date() });

async function timed<T>(work: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const started = performance.now();
  const value = await work();
  return { ms: performance.now() - started, value };
}

async function renderAll(store: CollectStore): Promise<Map<string, string>> {
  const layout = shardPathLayout(TEMPLATE, store.cluster);
  const files = new Map<string, string>();
  for (const shard of store.shards) {
    const content = await buildShardFile(store, shard.key, undefined);
    if (content !== undefined) files.set(layout.pathFor(shard.key), content);
  }
  return files;
}

async function writeFiles(dir: string, files: Map<string, string>): Promise<void> {
  for (const [path, content] of files) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const verdict = (ok: boolean): string => (ok ? 'PASS' : 'MISS');

async function main(): Promise<void> {
  const work = await tempDir('kollect-bench-git-');
  const kollectServer = await startGitServer({ repoName: 'kollect.git' });
  const cliServer = await startGitServer({ repoName: 'cli.git' });
  try {
    process.stdout.write(`building stores: ${ROWS.toLocaleString('en-US')} rows, ${NAMESPACES} namespaces ...\n`);
    const first = await buildStore(join(work, 'store-1'), CLUSTER, benchRows([]));
    const second = await buildStore(join(work, 'store-2'), CLUSTER, benchRows(CHANGED));
    process.stdout.write(`store: ${first.shards.length} shards, ${(first.manifest.totals.bytes / 1e6).toFixed(1)} MB of rows\n\n`);

    // kollect: first export, then 3 shards changed (forced past the interval), then unchanged.
    const config = sinkConfig.parse({ name: 'bench', type: 'git', url: kollectServer.url, mirrorDir: join(work, 'mirror'), pathTemplate: TEMPLATE }) as GitSinkConfig;
    const sink = createGitSink(config);
    const k1 = await timed(() => sink.apply(first, ctx(false)));
    const k2 = await timed(() => sink.apply(second, ctx(true)));
    kollectServer.resetRequests();
    const k3 = await timed(() => sink.apply(second, ctx(true)));
    const unchangedRequests = kollectServer.requests;
    const peakRssMb = process.resourceUsage().maxRSS / 1024;
    const changedFiles = (await kollectServer.git(['diff', '--name-only', 'HEAD~1', 'HEAD'])).trim().split('\n');

    // git CLI: same files, rendered beforehand (not timed), written into a clone.
    const filesFirst = await renderAll(first);
    const filesSecond = await renderAll(second);
    const clone = join(work, 'cli-clone');
    const c1 = await timed(async () => {
      await git(['clone', '--quiet', '--depth', '1', cliServer.url, clone]);
      await writeFiles(clone, filesFirst);
      await git(['add', '-A'], { cwd: clone });
      await git(['commit', '--quiet', '-m', 'snapshot'], { cwd: clone });
      await git(['push', '--quiet', 'origin', 'main'], { cwd: clone });
    });
    const c2 = await timed(async () => {
      await git(['fetch', '--quiet', '--depth', '1', 'origin', 'main'], { cwd: clone });
      await git(['reset', '--quiet', '--hard', 'origin/main'], { cwd: clone });
      await writeFiles(clone, filesSecond);
      await git(['add', '-A'], { cwd: clone });
      await git(['commit', '--quiet', '-m', 'snapshot'], { cwd: clone });
      await git(['push', '--quiet', 'origin', 'main'], { cwd: clone });
    });
    const same = (await kollectServer.git(['rev-parse', 'HEAD^{tree}'])) === (await cliServer.git(['rev-parse', 'HEAD^{tree}']));

    const r1 = k1.ms / c1.ms;
    const r2 = k2.ms / c2.ms;
    const show = (label: string, result: SinkResult): string => `${label} (${result.totals.added} added, ${result.totals.changed} changed, ${result.totals.removed} removed${result.skipped ? `, skipped: ${result.skipped.reason}` : ''})`;
    const lines = [
      `kollect first export         ${fmt(k1.ms).padStart(8)}   ${show('', k1.value)}`,
      `git CLI first export         ${fmt(c1.ms).padStart(8)}`,
      `kollect 3-shard export       ${fmt(k2.ms).padStart(8)}   ${show('', k2.value)}; commit touches ${changedFiles.length} files`,
      `git CLI 3-shard export       ${fmt(c2.ms).padStart(8)}`,
      `kollect unchanged export     ${fmt(k3.ms).padStart(8)}   ${unchangedRequests} HTTP requests (${k3.value.skipped?.reason ?? 'not skipped'})`,
      `kollect peak RSS             ${peakRssMb.toFixed(0).padStart(6)} MB`,
      `same tree as the CLI         ${same ? 'yes' : 'NO'}`,
      '',
      `${verdict(r1 <= 1.5)} first export    kollect/CLI = ${r1.toFixed(2)} (target <= 1.5)`,
      `${verdict(r2 <= 1.5)} 3-shard export  kollect/CLI = ${r2.toFixed(2)} (target <= 1.5)`,
      `${verdict(unchangedRequests === 0)} unchanged export: ${unchangedRequests} requests (target 0)`,
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (!(r1 <= 1.5 && r2 <= 1.5 && unchangedRequests === 0)) process.exitCode = 1;
  } finally {
    await kollectServer.close();
    await cliServer.close();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
