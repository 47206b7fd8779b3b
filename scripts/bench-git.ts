/**
 * Git sink benchmark (`npm run bench:git`): a 100,000-row store of about 60 shards exported by
 * kollect to a repository served by `git http-backend`, against the git CLI committing and
 * pushing the same files to a second served repository (clone, write files, `git add -A`,
 * commit, push over HTTP). Each kollect export runs in a child process of its own, so that its
 * peak RSS is kollect's and not the benchmark's (which holds the rendered files for the CLI),
 * with the built kollect (dist/, `npm run build` first), as it ships.
 * Every measurement is repeated in rounds and medians kept: the machine may be shared.
 * Prints each time, the kollect/CLI ratios, peak RSS and the requests of an unchanged export,
 * with PASS/MISS per target; exits 1 on a MISS.
 * Usage: npm run bench:git [-- --json FILE] (--json: also write the result as JSON,
 * scripts/support/bench-result.ts); BENCH_REPEATS=N sets the rounds (default 5).
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type * as SchemaModule from '../src/config/schema.js';
import type * as LogModule from '../src/log.js';
import { rowChecksum } from '../src/rows/project.js';
import type { Row } from '../src/rows/row.js';
import type * as GitSinkModule from '../src/sinks/git/git-sink.js';
import { buildShardDocument } from '../src/sinks/document/shard-document.js';
import { shardPathLayout } from '../src/sinks/document/shard-path.js';
import type * as StoreModule from '../src/store/collect-store.js';
import { git, startGitServer, type GitServer } from '../test/support/git-server.js';
import { buildStore, syntheticRows, tempDir } from '../test/support/store-fixture.js';
import { BenchRecord, jsonResultPath } from './support/bench-result.js';
import { buildKollect, compiled } from './support/build-kollect.js';
import { scriptChild, writeResult } from './support/measured-child.js';
import { median } from './support/median.js';
import { peakRssKiB } from './support/peak-rss.js';
import { Verdicts } from './support/verdicts.js';

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
/** Rounds; each pairs kollect with the CLI back to back, and the ratio is the median of the rounds' ratios. */
const REPEATS = Number(process.env.BENCH_REPEATS ?? 5);

/** What one kollect export in a child process reports. */
interface ChildReport {
  ms: number;
  maxRssMb: number;
  summary: string;
  skipped: string | null;
  /** The sink's own phase timings (open, fetch, render, commit, push), from its log line. */
  phases: Record<string, number>;
}

interface ChildJob {
  url: string;
  mirrorDir: string;
  store: string;
  force: boolean;
}

/** The child side: one export of `job.store`, timed around apply() only. */
async function child(job: ChildJob): Promise<void> {
  const { CollectStore } = await compiled<typeof StoreModule>('store/collect-store.js');
  const { sinkConfig } = await compiled<typeof SchemaModule>('config/schema.js');
  const { silentLogger } = await compiled<typeof LogModule>('log.js');
  const { createGitSink } = await compiled<typeof GitSinkModule>('sinks/git/git-sink.js');
  const store = await CollectStore.open(job.store);
  const config = sinkConfig.parse({ name: 'bench', type: 'git', url: job.url, mirrorDir: job.mirrorDir, pathTemplate: TEMPLATE }) as SchemaModule.GitSinkConfig;
  let phases: Record<string, number> = {};
  const log: LogModule.Logger = {
    ...silentLogger,
    info: (message, data) => {
      if (message === 'git export pushed') phases = data?.timingsMs as Record<string, number>;
    },
  };
  const started = performance.now();
  const result = await createGitSink(config).apply(store, { log, signal: new AbortController().signal, force: job.force, now: () => new Date() });
  await store.close();
  const t = result.totals;
  const report: ChildReport = {
    ms: performance.now() - started,
    maxRssMb: peakRssKiB() / 1024,
    summary: `${t.added} added, ${t.changed} changed, ${t.removed} removed`,
    skipped: result.skipped?.reason ?? null,
    phases,
  };
  writeResult(report);
}

function runChild(job: ChildJob): Promise<ChildReport> {
  return scriptChild<ChildReport>(import.meta.url, ['--child', JSON.stringify(job)]);
}

function* benchRows(changed: string[]): Generator<Row> {
  for (const row of syntheticRows({ cluster: CLUSTER, count: ROWS, namespaces: NAMESPACES })) {
    if (changed.includes(row.namespace)) {
      row.labels = { ...row.labels, rev: '2' };
      row.checksum = rowChecksum(row);
    }
    yield row;
  }
}

async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}

async function renderAll(store: StoreModule.CollectStore): Promise<Map<string, string>> {
  const layout = shardPathLayout(TEMPLATE, store.cluster, 'bench');
  const files = new Map<string, string>();
  for (const shard of store.shards) {
    const content = await buildShardDocument(store, shard.key, undefined);
    if (content !== undefined) files.set(layout.pathFor(shard.key), content.toString('utf8'));
  }
  return files;
}

async function writeFiles(dir: string, files: Map<string, string>): Promise<void> {
  for (const [path, content] of files) {
    await mkdir(dirname(join(dir, path)), { recursive: true });
    await writeFile(join(dir, path), content);
  }
}

/** The git CLI doing the same two exports into a clone of `server`; files rendered beforehand, not timed. */
async function cliExports(server: GitServer, clone: string, first: Map<string, string>, second: Map<string, string>): Promise<[number, number]> {
  const commitAndPush = async (files: Map<string, string>): Promise<void> => {
    await writeFiles(clone, files);
    await git(['add', '-A'], { cwd: clone });
    await git(['commit', '--quiet', '-m', 'snapshot'], { cwd: clone });
    await git(['push', '--quiet', 'origin', 'main'], { cwd: clone });
  };
  const a = await timed(async () => {
    await git(['clone', '--quiet', '--depth', '1', '--single-branch', server.url, clone]);
    await commitAndPush(first);
  });
  const b = await timed(async () => {
    await git(['fetch', '--quiet', '--depth', '1', 'origin', 'main'], { cwd: clone });
    await git(['reset', '--quiet', '--hard', 'origin/main'], { cwd: clone });
    await commitAndPush(second);
  });
  return [a, b];
}

const fmt = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
const all = (values: number[]): string => values.map((v) => (v / 1000).toFixed(2)).join(' / ');

async function main(): Promise<void> {
  const json = await jsonResultPath();
  const record = new BenchRecord('bench:git', { rows: ROWS, namespaces: NAMESPACES, changedShards: CHANGED.length, rounds: REPEATS });
  buildKollect();
  const work = await tempDir('kollect-bench-git-');
  try {
    process.stdout.write(`building stores: ${ROWS.toLocaleString('en-US')} rows, ${NAMESPACES} namespaces ...\n`);
    const first = await buildStore(join(work, 'store-1'), CLUSTER, benchRows([]));
    const second = await buildStore(join(work, 'store-2'), CLUSTER, benchRows(CHANGED));
    const filesFirst = await renderAll(first);
    const filesSecond = await renderAll(second);
    process.stdout.write(`store: ${first.shards.length} shards, ${(first.manifest.totals.bytes / 1e6).toFixed(1)} MB of rows; ${REPEATS} rounds\n\n`);

    const k1: ChildReport[] = [];
    const k2: ChildReport[] = [];
    const c1: number[] = [];
    const c2: number[] = [];
    const requests: number[] = [];
    const rss: number[] = [];
    let summaries: string[] = [];
    let treesUnlikeTheCli = 0;
    let touched = 0;
    for (let round = 0; round < REPEATS; round++) {
      const kollectServer = await startGitServer({ repoName: 'kollect.git' });
      const cliServer = await startGitServer({ repoName: 'cli.git' });
      try {
        // kollect: first export, then 3 shards changed (forced past the interval), then unchanged.
        const job = { url: kollectServer.url, mirrorDir: join(work, `mirror-${round}`) };
        const r1 = await runChild({ ...job, store: first.dir, force: false });
        const r2 = await runChild({ ...job, store: second.dir, force: true });
        kollectServer.resetRequests();
        const r3 = await runChild({ ...job, store: second.dir, force: true });
        requests.push(kollectServer.requests);
        k1.push(r1);
        k2.push(r2);
        rss.push(r1.maxRssMb, r2.maxRssMb, r3.maxRssMb);
        summaries = [r1.summary, r2.summary, r3.skipped ? `skipped: ${r3.skipped}` : `not skipped: ${r3.summary}`];
        touched = (await kollectServer.git(['diff', '--name-only', 'HEAD~1', 'HEAD'])).trim().split('\n').length;

        const [a, b] = await cliExports(cliServer, join(work, `cli-clone-${round}`), filesFirst, filesSecond);
        c1.push(a);
        c2.push(b);
        if ((await kollectServer.git(['rev-parse', 'HEAD^{tree}'])) !== (await cliServer.git(['rev-parse', 'HEAD^{tree}']))) treesUnlikeTheCli++;
      } finally {
        await kollectServer.close();
        await cliServer.close();
      }
    }

    const ms = (reports: ChildReport[]): number[] => reports.map((r) => r.ms);
    // Paired: each round's kollect and CLI runs saw the same load on a shared machine.
    const r1 = median(k1.map((k, i) => k.ms / (c1[i] ?? Number.NaN)));
    const r2 = median(k2.map((k, i) => k.ms / (c2[i] ?? Number.NaN)));
    const unchangedRequests = Math.max(...requests);
    /** Median of each phase the sink logs (open, fetch, render, commit, push), in ms. */
    const phaseMedians = (reports: ChildReport[]): Array<[string, number]> =>
      Object.keys(reports[0]?.phases ?? {}).map((phase) => [phase, median(reports.map((r) => r.phases[phase] ?? 0))]);
    /** The same as text: "fetch 40, render 1500, ...". */
    const phases = (reports: ChildReport[]): string =>
      phaseMedians(reports)
        .map(([phase, phaseMs]) => `${phase} ${phaseMs.toFixed(0)}`)
        .join(', ');
    const kollectFigures = (reports: ChildReport[], ratio: number): Record<string, number> => ({
      ms: median(ms(reports)),
      ratio,
      maxRssKiB: Math.max(...reports.map((r) => r.maxRssMb)) * 1024,
      ...Object.fromEntries(phaseMedians(reports).map(([phase, phaseMs]) => [`${phase}Ms`, phaseMs])),
    });
    record.add('kollect first export', kollectFigures(k1, r1));
    record.add('git CLI first export', { ms: median(c1) });
    record.add('kollect 3-shard export', kollectFigures(k2, r2));
    record.add('git CLI 3-shard export', { ms: median(c2) });
    record.add('kollect unchanged export', { requests: unchangedRequests });
    const verdicts = new Verdicts();
    verdicts.check(
      { name: 'first-export', value: r1, operator: '<=', target: 1.5, unit: 'x' },
      `first export    kollect/CLI = ${r1.toFixed(2)}x (median of the rounds' ratios)`,
    );
    verdicts.check(
      { name: '3-shard-export', value: r2, operator: '<=', target: 1.5, unit: 'x' },
      `3-shard export  kollect/CLI = ${r2.toFixed(2)}x (median of the rounds' ratios)`,
    );
    verdicts.check(
      { name: 'unchanged-export-requests', value: unchangedRequests, operator: '==', target: 0, unit: 'requests' },
      `unchanged export: ${unchangedRequests} requests`,
    );
    verdicts.check(
      { name: 'trees-unlike-the-cli', value: treesUnlikeTheCli, operator: '==', target: 0, unit: 'rounds' },
      `rounds whose tree differs from the git CLI's: ${treesUnlikeTheCli} of ${REPEATS}`,
    );
    const lines = [
      `                             median    (each round, s)`,
      `kollect first export       ${fmt(median(ms(k1))).padStart(8)}    (${all(ms(k1))})   ${summaries[0]}`,
      `git CLI first export       ${fmt(median(c1)).padStart(8)}    (${all(c1)})`,
      `kollect 3-shard export     ${fmt(median(ms(k2))).padStart(8)}    (${all(ms(k2))})   ${summaries[1]}; the commit touches ${touched} files`,
      `git CLI 3-shard export     ${fmt(median(c2)).padStart(8)}    (${all(c2)})`,
      `kollect unchanged export   ${unchangedRequests} HTTP requests (${summaries[2]})`,
      `kollect phases, first      ${phases(k1)} (ms, median)`,
      `kollect phases, 3-shard    ${phases(k2)} (ms, median)`,
      `kollect peak RSS           ${Math.max(...rss).toFixed(0)} MB (largest of any export process)`,
      '',
      verdicts.report(),
    ];
    process.stdout.write(`${lines.join('\n')}\n`);
    if (json) await record.write(json, verdicts);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

const childAt = process.argv.indexOf('--child');
if (childAt >= 0) await child(JSON.parse(process.argv[childAt + 1] ?? '{}') as ChildJob);
else await main();
