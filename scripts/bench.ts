/**
 * `npm run bench`: the whole `kollect collect` (local API server -> collect store -> Postgres +
 * Git + file) at 100,000 and 1,000,000 objects, against a floor measured in the same run: a raw
 * list of the same pages (fetch + JSON.parse, nothing kept) plus a raw COPY of the same rows into
 * an UNLOGGED table without index. Prints end-to-end time, its ratio to that floor, and peak RSS,
 * with PASS or MISS against each target; exits 1 on a MISS.
 *
 * The API server, the Git server and the measured COPY run in this process; kollect (the built
 * CLI, bin/kollect, as a CronJob runs it) and the raw list run in child processes, so each peak
 * RSS is its own. PostgreSQL: DATABASE_URL or embedded.
 * Usage: npm run bench [-- --sizes 100000,1000000] [--json FILE]
 * (--json: also write the result as JSON, scripts/support/bench-result.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEFAULT_RESOURCES } from '../src/config/schema.js';
import { groupVersionPath } from '../src/kube/discovery.js';
import { CollectStore } from '../src/store/collect-store.js';
import type { RunResult } from '../src/run.js';
import { startGitServer } from '../test/support/git-server.js';
import { startKubeSim } from '../test/support/kube-sim/index.js';
import { startPostgres } from '../test/support/postgres.js';
import { BenchRecord, jsonResultPath } from './support/bench-result.js';
import { buildKollect, KOLLECT } from './support/build-kollect.js';
import { measuredChild, scriptChild, writeResult } from './support/measured-child.js';
import { rawCopy } from './support/raw-copy.js';
import { Verdicts } from './support/verdicts.js';
import { peakRssKiB } from './support/peak-rss.js';

const PAGE_SIZE = 500;

interface Measurement {
  objects: number;
  ms: number;
  maxRssKiB: number;
}

/** Where kollect's time went, by its own account (`--output json`): the collection, then each sink side by side. */
type Breakdown = Record<string, number>;

function breakdownOf(stdout: string): Breakdown {
  const result = JSON.parse(stdout) as RunResult;
  const sinks = result.sinks.map((outcome) => [outcome.sink, outcome.ok && 'durationMs' in outcome.result ? outcome.result.durationMs : Number.NaN]);
  return { collection: result.collection?.durationMs ?? Number.NaN, ...Object.fromEntries(sinks) };
}

/** Worker: lists every default type page by page and parses each page, keeping nothing. */
async function rawList(server: string, token: string): Promise<number> {
  let objects = 0;
  for (const type of DEFAULT_RESOURCES) {
    let cont: string | undefined;
    do {
      const query = new URLSearchParams({ limit: String(PAGE_SIZE), ...(cont ? { continue: cont } : {}) });
      const response = await fetch(`${server}${groupVersionPath(type.group, type.version)}/${type.resource}?${query.toString()}`, {
        headers: { authorization: `Bearer ${token}`, accept: 'application/json' },
      });
      const page = JSON.parse(await response.text()) as { items: unknown[]; metadata: { continue?: string } };
      objects += page.items.length;
      cont = page.metadata.continue || undefined;
    } while (cont);
  }
  return objects;
}

/** Worker (in a child process, so its peak RSS is its own): the raw list. */
async function worker(args: string[]): Promise<void> {
  const started = performance.now();
  const objects = await rawList(args[0]!, args[1]!);
  const measurement: Measurement = { objects, ms: performance.now() - started, maxRssKiB: peakRssKiB() };
  writeResult(measurement);
}

async function measure(size: number, databaseUrl: string): Promise<{ e2e: Measurement; list: Measurement; copyMs: number; breakdown: Breakdown }> {
  const dir = await mkdtemp(join(tmpdir(), 'kollect-bench-'));
  const sim = await startKubeSim({ objects: size, seed: 1 });
  const git = await startGitServer({});
  try {
    const kubeconfig = join(dir, 'kubeconfig');
    await sim.writeKubeconfig(kubeconfig);
    const config = join(dir, 'kollect.yaml');
    await writeFile(
      config,
      [
        'cluster: bench',
        `kube: { kubeconfig: ${JSON.stringify(kubeconfig)} }`,
        `list: { pageSize: ${PAGE_SIZE} }`,
        `store: { dir: ${JSON.stringify(join(dir, 'store'))} }`,
        'sinks:',
        `  - { name: files, type: file, dir: ${JSON.stringify(join(dir, 'files'))} }`,
        '  - { name: fleet-db, type: postgres, url: { env: DATABASE_URL } }',
        `  - { name: audit, type: git, url: ${JSON.stringify(git.url)}, mirrorDir: ${JSON.stringify(join(dir, 'mirror'))} }`,
        '',
      ].join('\n'),
    );
    const env = { DATABASE_URL: databaseUrl };
    await measuredChild([KOLLECT, 'db', 'init', '--config', config], env);
    const list = await scriptChild<Measurement>(import.meta.url, ['--worker', sim.url, sim.token]);
    // The built CLI in a process of its own, as a CronJob runs it: its time and peak RSS are kollect's alone.
    const collected = await measuredChild([KOLLECT, 'collect', '--config', config, '--output', 'json'], env);
    const store = await CollectStore.open(join(dir, 'store'));
    const e2e: Measurement = { objects: store.manifest.totals.rows, ms: collected.ms, maxRssKiB: collected.maxRssKiB };
    await store.close();
    const copyMs = await rawCopy(databaseUrl, join(dir, 'store'));
    return { e2e, list, copyMs, breakdown: breakdownOf(collected.stdout) };
  } finally {
    await Promise.all([sim.close(), git.close()]);
    await rm(dir, { recursive: true, force: true });
  }
}

async function orchestrate(): Promise<void> {
  const sizesArg = process.argv.indexOf('--sizes');
  const sizes = sizesArg > 0 ? (process.argv[sizesArg + 1] ?? '').split(',').map(Number) : [100_000, 1_000_000];
  const json = await jsonResultPath();
  const record = new BenchRecord('bench', { sizes: sizes.join(','), pageSize: PAGE_SIZE, resourceTypes: DEFAULT_RESOURCES.length });
  buildKollect();
  const postgres = await startPostgres();
  const lines: string[] = [];
  const verdicts = new Verdicts();
  const peaks: number[] = [];
  const mib = (kib: number): string => `${Math.round(kib / 1024)} MiB`;
  for (const size of sizes) {
    const databaseUrl = await postgres.createDatabase();
    const { e2e, list, copyMs, breakdown } = await measure(size, databaseUrl);
    const floor = list.ms + copyMs;
    const ratio = e2e.ms / floor;
    peaks.push(e2e.maxRssKiB);
    record.add(`kollect@${size}`, { objects: size, rows: e2e.objects, ms: e2e.ms, maxRssKiB: e2e.maxRssKiB, ratio });
    record.add(`raw-list@${size}`, { objects: size, listed: list.objects, ms: list.ms, maxRssKiB: list.maxRssKiB });
    record.add(`raw-copy@${size}`, { rows: e2e.objects, ms: copyMs });
    record.add(`kollect-breakdown@${size}`, breakdown);
    const spent = Object.entries(breakdown).map(([part, ms]) => `${part} ${(ms / 1000).toFixed(1)} s`);
    process.stderr.write(`kollect at ${size}: ${spent.join(', ')} (the sinks run side by side)\n`);
    const line = [
      String(size).padStart(9),
      String(e2e.objects).padStart(9),
      `${(e2e.ms / 1000).toFixed(1)} s`.padStart(9),
      `${(list.ms / 1000).toFixed(1)} s`.padStart(9),
      `${(copyMs / 1000).toFixed(1)} s`.padStart(9),
      `${ratio.toFixed(2)}x`.padStart(7),
      mib(e2e.maxRssKiB).padStart(9),
    ].join('  ');
    lines.push(line);
    process.stderr.write(`${line}\n`);
    verdicts.check(
      { name: `end-to-end@${size}`, value: ratio, operator: '<=', target: 2, unit: 'x' },
      `end to end at ${size}: ${ratio.toFixed(2)}x (raw list + raw COPY)`,
    );
    if (size >= 1_000_000) {
      verdicts.check(
        { name: `peak-rss@${size}`, value: e2e.maxRssKiB / 1024, operator: '<', target: 512, unit: 'MiB' },
        `peak RSS at ${size}: ${mib(e2e.maxRssKiB)}`,
      );
    }
  }
  if (peaks.length >= 2) {
    const growth = peaks[peaks.length - 1]! / peaks[0]!;
    verdicts.check(
      { name: 'peak-rss-growth', value: growth, operator: '<=', target: 1.5, unit: 'x' },
      `peak RSS at ${sizes[sizes.length - 1]}: ${growth.toFixed(2)}x the figure at ${sizes[0]}`,
    );
  }
  console.log(
    `\nkollect collect end to end: local API server -> store -> Postgres + Git + file (page size ${PAGE_SIZE}, ${DEFAULT_RESOURCES.length} resource types)\n`,
  );
  console.log(
    [
      'objects'.padStart(9),
      'rows'.padStart(9),
      'kollect'.padStart(9),
      'raw list'.padStart(9),
      'raw COPY'.padStart(9),
      'ratio'.padStart(7),
      'peak RSS'.padStart(9),
    ].join('  '),
  );
  for (const line of lines) console.log(line);
  console.log(`\n${verdicts.report()}`);
  if (json) await record.write(json, verdicts);
  await postgres.dropCreatedDatabases();
}

if (process.argv[2] === '--worker') {
  await worker(process.argv.slice(3));
} else {
  await orchestrate();
  // Exit now, with the verdicts' code (1 on a MISS), whatever handles are left open.
  process.exit();
}
