import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, beforeEach, describe, it } from 'node:test';
import { collect, type CollectResult } from '../../src/collect/collect.js';
import { validateConfig } from '../../src/config/load.js';
import { createKubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/kubeconfig.js';
import type { RetryInfo } from '../../src/kube/request.js';
import { silentLogger, type Logger } from '../../src/log.js';
import { KollectMetrics } from '../../src/metrics/metrics.js';
import { CollectStore } from '../../src/store/collect-store.js';
import { startKubeSim, type KubeSim } from '../support/kube-sim/index.js';
import { tempDir } from '../support/store-fixture.js';

const TYPES = [
  { version: 'v1', resource: 'namespaces' },
  { version: 'v1', resource: 'nodes' },
  { version: 'v1', resource: 'pods' },
  { version: 'v1', resource: 'configmaps' },
  { version: 'v1', resource: 'secrets' },
  { group: 'apps', version: 'v1', resource: 'deployments' },
  { group: 'example.com', version: 'v1', resource: 'widgets', profile: 'widget' },
];

interface Run {
  result: CollectResult;
  metrics: KollectMetrics;
  warnings: string[];
  /** What onRetry was told, in order. */
  retries: RetryInfo[];
  /** Every shard file's text, by path in the store. */
  files: Map<string, string>;
}

async function run(
  sim: KubeSim,
  workers: number | 'auto',
  options: { signal?: AbortSignal; onPage?: () => void; list?: Record<string, unknown> } = {},
): Promise<Run> {
  const dir = await tempDir('kollect-collect-');
  const kubeconfig = join(dir, 'kubeconfig');
  await sim.writeKubeconfig(kubeconfig);
  const config = validateConfig({
    cluster: 'c1',
    list: { pageSize: 300, retries: 3, workers, ...options.list },
    resources: TYPES,
    profiles: { widget: { attributes: { size: 'spec.size', owner: 'metadata.annotations["example.com/owner"]' } } },
    store: { dir: join(dir, 'store') },
  });
  const metrics = new KollectMetrics();
  const warnings: string[] = [];
  const retries: RetryInfo[] = [];
  const log: Logger = { ...silentLogger, warn: (message) => warnings.push(message) };
  const result = await collect(config, {
    client: createKubeClient(loadKubeConfig({ kubeconfig })),
    log,
    metrics,
    signal: options.signal ?? new AbortController().signal,
    sleep: (ms, signal) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(resolve, Math.min(ms, 20));
        signal?.addEventListener('abort', () => {
          clearTimeout(timer);
          reject(signal.reason as Error);
        });
      }),
    random: () => 0.5,
    onProgress: options.onPage,
    onRetry: (retry) => retries.push(retry),
  });
  const files = new Map<string, string>();
  for (const shard of result.manifest.shards) {
    for (const { file } of shard.segments) if (!files.has(file)) files.set(file, await readFile(join(result.storeDir, file), 'utf8'));
  }
  return { result, metrics, warnings, retries, files };
}

/** The manifest without what differs from run to run (times). */
function comparable(result: CollectResult): unknown {
  const { collectedAt: _c, finishedAt: _f, ...rest } = result.manifest;
  return rest;
}

async function metricValue(metrics: KollectMetrics, name: string, labels: Record<string, string>): Promise<number> {
  const metric = (await metrics.registry.getMetricsAsJSON()).find((m) => m.name === name);
  const values = (metric?.values ?? []) as Array<{ labels: Record<string, string | number>; value: number }>;
  return values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((n, v) => n + v.value, 0);
}

describe('collect(): list workers', () => {
  let sim: KubeSim;
  // One server for every case, started once the first case needs it.
  const started = startKubeSim({ objects: 6_000, seed: 7 }).then((s) => (sim = s));
  beforeEach(() => started.then(() => undefined));
  after(async () => (await started).close());

  it('GIVEN workers 0 and 2 THEN the stores are identical: manifest, shard fingerprints and every line', async () => {
    const inThread = await run(sim, 0);
    const pooled = await run(sim, 2);
    assert.deepEqual(comparable(pooled.result), comparable(inThread.result));
    assert.deepEqual(pooled.files, inThread.files);
    const byType = sim.expectedCounts().byType;
    const expected = TYPES.reduce((n, t) => n + (byType[t.group ? `${t.resource}.${t.group}` : t.resource] ?? NaN), 0);
    assert.equal(inThread.result.manifest.totals.rows, expected);
    assert.ok(inThread.result.manifest.resources.every((r) => r.complete));
    const store = await CollectStore.open(pooled.result.storeDir);
    let rows = 0;
    for await (const row of store.rows()) {
      assert.match(row.checksum, /^[0-9a-f]{32}$/);
      rows++;
    }
    assert.equal(rows, pooled.result.manifest.totals.rows);
  });

  const faults: Array<[string, () => void, (r: Run) => Promise<void>]> = [
    [
      'a 410 on page 3 of pods, a 429 and a 500',
      () => {
        sim.inject({ kind: 'status', status: 410, resource: 'pods', page: 3 });
        sim.inject({ kind: 'status', status: 429, resource: 'configmaps', page: 2 });
        sim.inject({ kind: 'status', status: 500, resource: 'deployments', page: 1 });
      },
      async (r) => {
        assert.ok(r.warnings.some((w) => w.includes('continue token expired')));
        assert.equal(await metricValue(r.metrics, 'kollect_list_retries_total', { resource: 'pods', kind: 'relist' }), 1);
        assert.equal(await metricValue(r.metrics, 'kollect_list_retries_total', { kind: 'retry' }), 2);
        // What a person at a terminal is shown while the backoff runs.
        assert.deepEqual(r.retries.map((x) => [x.path.split('?')[0], x.reason, x.attempt]).sort(), [
          ['/api/v1/configmaps', '429', 1],
          ['/apis/apps/v1/deployments', '500', 1],
        ]);
        assert.ok(r.result.manifest.resources.every((x) => x.complete));
      },
    ],
    [
      'a 403 on configmaps',
      () => sim.inject({ kind: 'status', status: 403, resource: 'configmaps', times: Infinity }),
      async (r) => {
        const configmaps = r.result.manifest.resources.find((x) => x.resource === 'configmaps');
        assert.deepEqual([configmaps?.complete, configmaps?.reason], [false, 'forbidden']);
        assert.equal(r.result.failedTypes.length, 0);
        assert.ok(r.warnings.some((w) => w.includes('forbidden to list configmaps')));
      },
    ],
    [
      'a 500 on every page of nodes',
      () => sim.inject({ kind: 'status', status: 500, resource: 'nodes', times: Infinity }),
      async (r) => {
        assert.deepEqual(r.result.failedTypes, ['nodes']);
        const nodes = r.result.manifest.resources.find((x) => x.resource === 'nodes');
        assert.deepEqual([nodes?.complete, nodes?.reason], [false, 'error']);
      },
    ],
  ];
  for (const [what, inject, check] of faults) {
    for (const workers of [0, 2]) {
      it(`GIVEN ${what}, workers ${workers} THEN the same semantics as always`, async () => {
        const clean = await run(sim, 0);
        sim.clearFaults();
        inject();
        try {
          const faulty = await run(sim, workers);
          await check(faulty);
          // Whatever completed has exactly the rows of a clean run: a relist left no duplicate.
          for (const resource of faulty.result.manifest.resources.filter((x) => x.complete)) {
            assert.equal(resource.rows, clean.result.manifest.resources.find((x) => x.resource === resource.resource)?.rows, resource.resource);
          }
        } finally {
          sim.clearFaults();
        }
      });
    }
  }

  for (const workers of [0, 2]) {
    it(`GIVEN list.scope namespaces and a 410 on page 2 of pods, workers ${workers} THEN the relisted namespace holds its rows once and the store equals a cluster-wide one`, async () => {
      const clean = await run(sim, 0);
      sim.clearFaults();
      sim.inject({ kind: 'status', status: 410, resource: 'pods', page: 2 });
      try {
        const byNamespace = await run(sim, workers, { list: { scope: 'namespaces' } });
        assert.equal(await metricValue(byNamespace.metrics, 'kollect_list_retries_total', { resource: 'pods', kind: 'relist' }), 1);
        // The same rows in the same shards: only the order of the lines in the spool files may differ.
        const shards = (r: Run) => r.result.manifest.shards.map(({ key, rows, fingerprint }) => ({ key, rows, fingerprint }));
        assert.deepEqual(shards(byNamespace), shards(clean));
        assert.ok(byNamespace.result.manifest.resources.every((x) => x.complete));
        const store = await CollectStore.open(byNamespace.result.storeDir);
        let rows = 0;
        for await (const row of store.rows()) rows += row.checksum === '' ? 0 : 1;
        await store.close();
        assert.equal(rows, clean.result.manifest.totals.rows);
      } finally {
        sim.clearFaults();
      }
    });
  }

  // No measured time: run()'s sleep stands in for the Retry-After and ends on the abort. A collect
  // that ignored the abort would resolve (assert.rejects fails); one that stalled fails by the
  // test's timeout, far above the second a run takes.
  it('GIVEN an abort in the middle of a list THEN collect() rejects INTERRUPTED promptly and leaves no store', { timeout: 60_000 }, async () => {
    sim.inject({ kind: 'status', status: 429, resource: 'pods', page: 2, retryAfterSeconds: 60 });
    const controller = new AbortController();
    let pages = 0;
    try {
      await assert.rejects(
        run(sim, 2, {
          signal: controller.signal,
          onPage: () => {
            if (++pages === 3) controller.abort(new Error('SIGTERM received'));
          },
        }),
        (error: { code?: string }) => error.code === 'INTERRUPTED',
      );
    } finally {
      sim.clearFaults();
    }
  });
});
