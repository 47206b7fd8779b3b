/**
 * `npm run bench:collect`: how fast kollect lists a cluster into the collect store, and how much
 * memory it takes, at 100,000 and 1,000,000 objects, against a baseline measured in the same run:
 * the same lists through @kubernetes/client-node's typed API (CoreV1Api / AppsV1Api, with its
 * ObjectSerializer), which is what a straightforward exporter would do.
 *
 * The local API server runs in this process; every measured case runs in its own child process,
 * so its peak RSS is its own; CPU is the case's (every thread) and the API server's meanwhile.
 * kollect is measured as it ships: built into dist/ first (`npm run build`) and its modules
 * imported from there, so that its list workers start from dist/ as in production, not through
 * tsx (which each worker thread would have to load again). Each case runs `--rounds` times
 * (default 3), the cases interleaved, and its median round is reported. Usage:
 *   npm run bench:collect [-- --sizes 100000,1000000] [--workers auto|N] [--rounds N]
 * (--workers: list.workers of the kollect cases; default: the config's default).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startKubeSim } from '../test/support/kube-sim/index.js';
import type * as CollectModule from '../src/collect/collect.js';
import type * as LoadModule from '../src/config/load.js';
import type * as ClientModule from '../src/kube/client.js';
import type * as KubeconfigModule from '../src/kube/kubeconfig.js';
import type * as MetricsModule from '../src/metrics/metrics.js';
import type * as LogModule from '../src/log.js';
import { DEFAULT_RESOURCES } from '../src/config/schema.js';
import { buildKollect, compiled } from './support/build-kollect.js';
import { scriptChild, writeResult } from './support/measured-child.js';
import { medianBy } from './support/median.js';

type Case = 'typed-api' | 'kollect-full' | 'kollect-metadata';
interface Measurement {
  objects: number;
  ms: number;
  maxRssKiB: number;
  /** CPU time of the measured process (all its threads), user + system. */
  cpuMs: number;
  /** CPU time the API server (this process) spent meanwhile. */
  serverCpuMs?: number;
}

const TYPES = DEFAULT_RESOURCES;
const PAGE_SIZE = 500;

/** One measured case, in a child process: prints a Measurement as JSON. */
async function worker(which: Case, kubeconfig: string, storeDir: string, workers: string | undefined): Promise<void> {
  // Each case is timed from its first request: module loading is not listing.
  let started = 0;
  let cpuBefore: NodeJS.CpuUsage | undefined;
  let objects = 0;
  if (which === 'typed-api') {
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
    started = performance.now();
    cpuBefore = process.cpuUsage();
    for (const type of TYPES) {
      let cont: string | undefined;
      do {
        const page = await lists[type.resource]!(cont);
        objects += page.items.length;
        cont = page.metadata?._continue || undefined;
      } while (cont);
    }
  } else {
    const { collect } = await compiled<typeof CollectModule>('collect/collect.js');
    const { validateConfig } = await compiled<typeof LoadModule>('config/load.js');
    const { createKubeClient } = await compiled<typeof ClientModule>('kube/client.js');
    const { loadKubeConfig } = await compiled<typeof KubeconfigModule>('kube/kubeconfig.js');
    const { KollectMetrics } = await compiled<typeof MetricsModule>('metrics/metrics.js');
    const { silentLogger } = await compiled<typeof LogModule>('log.js');
    const config = validateConfig({
      cluster: 'bench',
      list: { pageSize: PAGE_SIZE, concurrency: 4, ...(workers ? { workers: workers === 'auto' ? 'auto' : Number(workers) } : {}) },
      resources: TYPES.map((t) => (which === 'kollect-metadata' ? { ...t, profile: 'metadata' } : t)),
      store: { dir: storeDir },
    });
    started = performance.now();
    cpuBefore = process.cpuUsage();
    const result = await collect(config, {
      client: createKubeClient(loadKubeConfig({ kubeconfig })),
      log: silentLogger,
      metrics: new KollectMetrics(),
      signal: new AbortController().signal,
      sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
      random: Math.random,
    });
    objects = result.manifest.totals.rows;
  }
  const ms = performance.now() - started;
  const cpu = process.cpuUsage(cpuBefore);
  const measurement: Measurement = { objects, ms, maxRssKiB: process.resourceUsage().maxRSS, cpuMs: (cpu.user + cpu.system) / 1000 };
  writeResult(measurement);
}

async function runCase(which: Case, kubeconfig: string, storeDir: string, workers: string | undefined): Promise<Measurement> {
  const serverCpu = process.cpuUsage();
  const measurement = await scriptChild<Measurement>(import.meta.url, ['--worker', which, kubeconfig, storeDir, ...(workers ? [workers] : [])]);
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
        rows.push(
          [which.padEnd(17), String(size).padStart(9), String(m.objects).padStart(9), `${(m.ms / 1000).toFixed(1)} s`.padStart(8), `${Math.round(rate).toLocaleString('en-US')}/s`.padStart(11), `${(rate / baseRate).toFixed(2)}x`.padStart(7), `${Math.round(m.maxRssKiB / 1024)} MiB`.padStart(9), `${(m.cpuMs / 1000).toFixed(1)} s`.padStart(7), `${((m.serverCpuMs ?? 0) / 1000).toFixed(1)} s`.padStart(10)].join('  '),
        );
        process.stderr.write(`${rows[rows.length - 1]}\n`);
      }
    } finally {
      await sim.close();
      await rm(dir, { recursive: true, force: true });
    }
  }
  const header = ['case'.padEnd(17), 'objects'.padStart(9), 'listed'.padStart(9), 'time'.padStart(8), 'objects/s'.padStart(11), 'vs API'.padStart(7), 'peak RSS'.padStart(9), 'CPU'.padStart(7), 'server CPU'.padStart(10)].join('  ');
  console.log(`\nkollect collect benchmark (page size ${PAGE_SIZE}, ${TYPES.length} resource types, list.workers ${workers ?? 'default'}; baseline: typed API in the same run; median of ${rounds} rounds)\n`);
  console.log(header);
  for (const row of rows) console.log(row);
  const verdicts: string[] = [];
  const ratio = (a: string, b: string): number => {
    const x = results.get(a)!;
    const y = results.get(b)!;
    return x.objects / x.ms / (y.objects / y.ms);
  };
  for (const size of sizes) {
    const full = ratio(`kollect-full@${size}`, `typed-api@${size}`);
    const meta = ratio(`kollect-metadata@${size}`, `typed-api@${size}`);
    verdicts.push(`${full >= 2.5 ? 'PASS' : 'MISS'}  full objects at ${size}: ${full.toFixed(2)}x the typed API (target >= 2.5x)`);
    verdicts.push(`${meta >= 8 ? 'PASS' : 'MISS'}  metadata-only at ${size}: ${meta.toFixed(2)}x the typed API (target >= 8x)`);
  }
  if (sizes.length >= 2) {
    const small = results.get(`kollect-full@${sizes[0]}`)!.maxRssKiB;
    const large = results.get(`kollect-full@${sizes[sizes.length - 1]}`)!.maxRssKiB;
    verdicts.push(`${large <= 1.5 * small ? 'PASS' : 'MISS'}  peak RSS at ${sizes[sizes.length - 1]}: ${(large / small).toFixed(2)}x the figure at ${sizes[0]} (target <= 1.5x)`);
  }
  console.log(`\n${verdicts.join('\n')}`);
}

if (process.argv[2] === '--worker') {
  await worker(process.argv[3] as Case, process.argv[4]!, process.argv[5]!, process.argv[6]);
} else {
  await main();
}
