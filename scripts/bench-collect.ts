/**
 * `npm run bench:collect`: how fast kollect lists a cluster into the collect store, and how much
 * memory it takes, at 100,000 and 1,000,000 objects, against a baseline measured in the same run:
 * the same lists through @kubernetes/client-node's typed API (CoreV1Api / AppsV1Api, with its
 * ObjectSerializer), which is what a straightforward exporter would do.
 *
 * The local API server runs in this process; every measured case runs in its own child process,
 * so its peak RSS is its own; CPU is the case's (every thread) and the API server's meanwhile.
 * kollect is measured as it ships: the built CLI (`npm run build`, then `bin/kollect collect`
 * over the bundle, list workers included) with a config of no sink, timed by its own account of
 * the collection (from its first request to the store's manifest, as the typed API is timed from
 * its first request); its CPU is the whole process's, start-up included (about 0.25 s), while the
 * typed API's leaves out loading its modules. Each case runs `--rounds` times (default 3), the
 * cases interleaved, and its median round is reported. Exits 1 when a target is missed. Usage:
 *   npm run bench:collect [-- --sizes 100000,1000000] [--workers auto|N] [--rounds N] [--json FILE]
 * (--workers: list.workers of the kollect cases; default: the config's default; --json: also
 * write the result as JSON, scripts/support/bench-result.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKubeSim } from '../test/support/kube-sim/index.js';
import type { RunResult } from '../src/run.js';
import { DEFAULT_RESOURCES } from '../src/config/schema.js';
import { BenchRecord, jsonResultPath } from './support/bench-result.js';
import { buildKollect, KOLLECT } from './support/build-kollect.js';
import { measuredChild, scriptChild, writeResult } from './support/measured-child.js';
import { medianBy } from './support/median.js';
import { Verdicts } from './support/verdicts.js';
import { peakRssKiB } from './support/peak-rss.js';

type Case = 'typed-api' | 'kollect-full' | 'kollect-metadata';
interface Measurement {
  objects: number;
  ms: number;
  maxRssKiB: number;
  /** CPU time of the measured process (all its threads), user + system: kollect's from its start, the typed API's from its first request. */
  cpuMs: number;
  /** CPU time the API server (this process) spent meanwhile. */
  serverCpuMs?: number;
}

const TYPES = DEFAULT_RESOURCES;
const PAGE_SIZE = 500;

/** The typed-API baseline, in a child process of this script: prints a Measurement as JSON. */
async function typedApi(kubeconfig: string): Promise<void> {
  // Timed from its first request: module loading is not listing.
  const k8s = await import('@kubernetes/client-node');
  const kc = new k8s.KubeConfig();
  kc.loadFromFile(kubeconfig);
  const core = kc.makeApiClient(k8s.CoreV1Api);
  const apps = kc.makeApiClient(k8s.AppsV1Api);
  type Page = { items: unknown[]; metadata?: { _continue?: string } };
  const lists: Record<string, (cont?: string) => Promise<Page>> = {
    namespaces: (c) => core.listNamespace({ limit: PAGE_SIZE, _continue: c }),
    nodes: (c) => core.listNode({ limit: PAGE_SIZE, _continue: c }),
    pods: (c) => core.listPodForAllNamespaces({ limit: PAGE_SIZE, _continue: c }),
    services: (c) => core.listServiceForAllNamespaces({ limit: PAGE_SIZE, _continue: c }),
    configmaps: (c) => core.listConfigMapForAllNamespaces({ limit: PAGE_SIZE, _continue: c }),
    secrets: (c) => core.listSecretForAllNamespaces({ limit: PAGE_SIZE, _continue: c }),
    deployments: (c) => apps.listDeploymentForAllNamespaces({ limit: PAGE_SIZE, _continue: c }),
  };
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  let objects = 0;
  for (const type of TYPES) {
    let cont: string | undefined;
    do {
      const page = await lists[type.resource]!(cont);
      objects += page.items.length;
      cont = page.metadata?._continue || undefined;
    } while (cont);
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  writeResult({ objects, ms, maxRssKiB: peakRssKiB(), cpuMs: (cpu.user + cpu.system) / 1000 } satisfies Measurement);
}

/** kollect as a user runs it: `bin/kollect collect` with a config of no sink, only the store. */
async function kollect(which: Exclude<Case, 'typed-api'>, kubeconfig: string, storeDir: string, workers: string | undefined): Promise<Measurement> {
  const config = `${storeDir}.json`;
  await writeFile(
    config,
    JSON.stringify({
      cluster: 'bench',
      list: { pageSize: PAGE_SIZE, concurrency: 4, ...(workers ? { workers: workers === 'auto' ? 'auto' : Number(workers) } : {}) },
      resources: TYPES.map((t) => (which === 'kollect-metadata' ? { ...t, profile: 'metadata' } : t)),
      store: { dir: storeDir },
    }),
  );
  const run = await measuredChild([KOLLECT, 'collect', '--config', config, '--kubeconfig', kubeconfig, '--output', 'json']);
  const result = JSON.parse(run.stdout) as RunResult;
  if (!result.collection) throw new Error('kollect collect printed no collection');
  return { objects: result.store.rows, ms: result.collection.durationMs, maxRssKiB: run.maxRssKiB, cpuMs: run.cpuMs };
}

async function runCase(which: Case, kubeconfig: string, storeDir: string, workers: string | undefined): Promise<Measurement> {
  const serverCpu = process.cpuUsage();
  const measurement =
    which === 'typed-api' ? await scriptChild<Measurement>(import.meta.url, ['--typed-api', kubeconfig]) : await kollect(which, kubeconfig, storeDir, workers);
  const cpu = process.cpuUsage(serverCpu);
  return { ...measurement, serverCpuMs: (cpu.user + cpu.system) / 1000 };
}

async function main(): Promise<void> {
  const sizesArg = process.argv.indexOf('--sizes');
  const sizes = sizesArg > 0 ? (process.argv[sizesArg + 1] ?? '').split(',').map(Number) : [100_000, 1_000_000];
  const workersArg = process.argv.indexOf('--workers');
  const workers = workersArg > 0 ? process.argv[workersArg + 1] : undefined;
  const roundsArg = process.argv.indexOf('--rounds');
  const rounds = roundsArg > 0 ? Number(process.argv[roundsArg + 1]) : 3;
  if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds takes a whole number >= 1, got ${process.argv[roundsArg + 1]}`);
  const json = await jsonResultPath();
  const record = new BenchRecord('bench:collect', {
    sizes: sizes.join(','),
    rounds,
    workers: workers ?? 'default',
    pageSize: PAGE_SIZE,
    resourceTypes: TYPES.length,
  });
  buildKollect();
  const rows: string[] = [];
  const results = new Map<string, Measurement>();
  const CASES = ['typed-api', 'kollect-full', 'kollect-metadata'] as const;
  for (const size of sizes) {
    const sim = await startKubeSim({ objects: size, seed: 1 });
    const dir = await mkdtemp(join(tmpdir(), 'kollect-bench-'));
    try {
      const kubeconfig = join(dir, 'kubeconfig');
      await sim.writeKubeconfig(kubeconfig);
      // Rounds interleave the cases, so that a slow minute of the machine hits each of them; each
      // case is then reported by its median round (by time).
      const runs = new Map<string, Measurement[]>(CASES.map((c) => [c, []]));
      for (let round = 1; round <= rounds; round++) {
        for (const which of CASES) {
          const m = await runCase(which, kubeconfig, join(dir, `store-${which}`), workers);
          runs.get(which)!.push(m);
          process.stderr.write(`round ${round}/${rounds} ${which} at ${size}: ${(m.ms / 1000).toFixed(1)} s\n`);
        }
      }
      for (const which of CASES) {
        const m = medianBy(runs.get(which)!, (run) => run.ms)!;
        results.set(`${which}@${size}`, m);
        const base = results.get(`typed-api@${size}`)!;
        const rate = m.objects / (m.ms / 1000);
        const baseRate = base.objects / (base.ms / 1000);
        record.add(`${which}@${size}`, {
          objects: size,
          listed: m.objects,
          ms: m.ms,
          objectsPerSecond: rate,
          ratio: rate / baseRate,
          maxRssKiB: m.maxRssKiB,
          cpuMs: m.cpuMs,
          serverCpuMs: m.serverCpuMs ?? 0,
        });
        rows.push(
          [
            which.padEnd(17),
            String(size).padStart(9),
            String(m.objects).padStart(9),
            `${(m.ms / 1000).toFixed(1)} s`.padStart(8),
            `${Math.round(rate).toLocaleString('en-US')}/s`.padStart(11),
            `${(rate / baseRate).toFixed(2)}x`.padStart(7),
            `${Math.round(m.maxRssKiB / 1024)} MiB`.padStart(9),
            `${(m.cpuMs / 1000).toFixed(1)} s`.padStart(7),
            `${((m.serverCpuMs ?? 0) / 1000).toFixed(1)} s`.padStart(10),
          ].join('  '),
        );
        process.stderr.write(`${rows[rows.length - 1]}\n`);
      }
    } finally {
      await sim.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
  const header = [
    'case'.padEnd(17),
    'objects'.padStart(9),
    'listed'.padStart(9),
    'time'.padStart(8),
    'objects/s'.padStart(11),
    'vs API'.padStart(7),
    'peak RSS'.padStart(9),
    'CPU'.padStart(7),
    'server CPU'.padStart(10),
  ].join('  ');
  console.log(
    `\nkollect collect benchmark (page size ${PAGE_SIZE}, ${TYPES.length} resource types, list.workers ${workers ?? 'default'}; baseline: typed API in the same run; median of ${rounds} rounds)`,
  );
  console.log(
    'time: from the first request; CPU: the kollect process whole (start-up included), the typed API from its first request; server CPU: the local API server meanwhile\n',
  );
  console.log(header);
  for (const row of rows) console.log(row);
  const verdicts = new Verdicts();
  const ratio = (a: string, b: string): number => {
    const x = results.get(a)!;
    const y = results.get(b)!;
    return x.objects / x.ms / (y.objects / y.ms);
  };
  for (const size of sizes) {
    const full = ratio(`kollect-full@${size}`, `typed-api@${size}`);
    const meta = ratio(`kollect-metadata@${size}`, `typed-api@${size}`);
    verdicts.check({ name: `full@${size}`, value: full, operator: '>=', target: 2.5, unit: 'x' }, `full objects at ${size}: ${full.toFixed(2)}x the typed API`);
    verdicts.check(
      { name: `metadata-only@${size}`, value: meta, operator: '>=', target: 7.5, unit: 'x' },
      `metadata-only at ${size}: ${meta.toFixed(2)}x the typed API`,
    );
  }
  if (sizes.length >= 2) {
    const small = results.get(`kollect-full@${sizes[0]}`)!.maxRssKiB;
    const large = results.get(`kollect-full@${sizes[sizes.length - 1]}`)!.maxRssKiB;
    verdicts.check(
      { name: 'peak-rss-growth', value: large / small, operator: '<=', target: 1.5, unit: 'x' },
      `peak RSS at ${sizes[sizes.length - 1]}: ${(large / small).toFixed(2)}x the figure at ${sizes[0]}`,
    );
  }
  console.log(`\n${verdicts.report()}`);
  if (json) await record.write(json, verdicts);
}

if (process.argv[2] === '--typed-api') {
  await typedApi(process.argv[3]!);
} else {
  await main();
}
