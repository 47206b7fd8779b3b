import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { RunResult } from '../../src/run.js';
import { runKollect, type CliResult } from '../support/cli.js';
import { withGitServer, type GitServer } from '../support/git-server.js';
import { startKubeSim, type KubeSim, type KubeSimOptions } from '../support/kube-sim/index.js';
import { dropTestDatabases, freshDatabase, initTables, storedRows, TEST_URL_ENV, testSinkConfig, withClient } from '../support/postgres.js';
import { parsePromText, samplesOf } from '../support/prom-text.js';
import { tempDir } from '../support/store-fixture.js';

/**
 * Issue 30 end to end: one configuration for a fleet, clusters of different shapes, one shared
 * Postgres table and one Git repository, each cluster a `kollect collect` process of the built CLI.
 */

const POD_SELECTOR = 'tier!=worker';
const EXCLUDED_NAMESPACE_INDEX = 1;

/** The one configuration every cluster runs; each process names its cluster, kubeconfig and store by flags. */
async function fleetConfig(dir: string, gitUrl: string, excluded: string): Promise<string> {
  const file = join(dir, 'kollect.yaml');
  await writeFile(
    file,
    [
      'cluster: fleet',
      'list: { pageSize: 100, retries: 1, concurrency: 4 }',
      `namespaces: { exclude: [${excluded}] }`,
      'exclude: [clusterissuers.cert-manager.io]',
      'resources:',
      `  - { version: v1, resource: pods, labelSelector: "${POD_SELECTOR}" }`,
      '  - { group: apps, version: v1, resource: deployments }',
      '  - { group: example.com, version: v1, resource: widgets, optional: true }',
      '  - { group: cert-manager.io, resource: "*", optional: true }',
      '  - { group: metrics.k8s.io, resource: "*", optional: true }',
      'sinks:',
      `  - { name: db, type: postgres, url: { env: ${TEST_URL_ENV} }, ssl: { mode: disable } }`,
      `  - { name: audit, type: git, url: ${JSON.stringify(gitUrl)}, exportMinInterval: 0 }`,
    ].join('\n'),
  );
  return file;
}

interface Cluster {
  name: string;
  dir: string;
  kubeconfig: string;
}

async function clusterOf(name: string, sim: KubeSim): Promise<Cluster> {
  const dir = await tempDir(`kollect-fleet-${name}-`);
  await mkdir(join(dir, 'mirror'));
  const kubeconfig = join(dir, 'kubeconfig');
  await sim.writeKubeconfig(kubeconfig);
  return { name, dir, kubeconfig };
}

async function run(
  command: 'collect' | 'export',
  cluster: Cluster,
  config: string,
  url: string,
  flags: string[] = [],
): Promise<{ run: CliResult; result: RunResult }> {
  const args = [
    command,
    '--config',
    config,
    '--cluster',
    cluster.name,
    '--kubeconfig',
    cluster.kubeconfig,
    '--store',
    join(cluster.dir, 'store'),
    '--output',
    'json',
    ...flags,
  ];
  const process = await runKollect(args, { env: { [TEST_URL_ENV]: url, KOLLECT_GIT_MIRROR_DIR: join(cluster.dir, 'mirror') } });
  let result: RunResult;
  try {
    result = JSON.parse(process.stdout) as RunResult;
  } catch {
    assert.fail(`stdout is not JSON (exit ${process.code}):\n${process.stdout}\n${process.stderr}`);
  }
  return { run: process, result };
}

/** The cluster's rows in the shared table, counted by type (`pods`, `deployments.apps`) and namespace. */
async function storedCounts(url: string, cluster: string): Promise<{ byType: Record<string, number>; byNamespace: Record<string, number> }> {
  return withClient(url, async (client) => {
    const rows = (
      await client.query<{ type: string; namespace: string; n: number }>(
        `SELECT CASE WHEN api_group = '' THEN resource ELSE resource || '.' || api_group END AS type, namespace, count(*)::int AS n
           FROM kollect_items WHERE cluster = $1 GROUP BY 1, 2`,
        [cluster],
      )
    ).rows;
    const byType: Record<string, number> = {};
    const byNamespace: Record<string, number> = {};
    for (const r of rows) {
      byType[r.type] = (byType[r.type] ?? 0) + r.n;
      byNamespace[r.namespace] = (byNamespace[r.namespace] ?? 0) + r.n;
    }
    return { byType, byNamespace };
  });
}

/** What the configuration collects of `sim`, in the given namespaces: pods by the selector, deployments and widgets whole. */
function expectedByType(sim: KubeSim, namespaces: string[], withWidgets: boolean): Record<string, number> {
  const all = sim.expectedCounts({ namespaces }).byType;
  return {
    pods: sim.expectedCounts({ labelSelector: POD_SELECTOR, namespaces }).byType.pods!,
    'deployments.apps': all['deployments.apps']!,
    ...(withWidgets ? { 'widgets.example.com': all['widgets.example.com']! } : {}),
  };
}

const namespacesOf = (sim: KubeSim): string[] =>
  Object.keys(sim.expectedCounts().byNamespace)
    .filter((ns) => ns !== '')
    .sort();

/** How many of a cluster's files in Git hold widgets rows. */
async function filesWithWidgets(server: GitServer, cluster: string): Promise<number> {
  // git grep exits 1 when nothing matches.
  const found = await server.git(['grep', '-l', '-F', '"apiGroup":"example.com"', 'main', '--', `clusters/${cluster}`]).catch(() => '');
  return found.split('\n').filter(Boolean).length;
}

/** The Git tree of a cluster's folder: equal hashes, equal files. */
const treeOf = (server: GitServer, cluster: string): Promise<string> => server.git(['rev-parse', `main:clusters/${cluster}`]).then((hash) => hash.trim());

describe('one configuration for a fleet (CLI processes, shared Postgres table and Git repository)', () => {
  const sims: KubeSim[] = [];
  const start = async (options: KubeSimOptions): Promise<KubeSim> => {
    const sim = await startKubeSim(options);
    sims.push(sim);
    return sim;
  };
  after(async () => {
    await Promise.all(sims.map((sim) => sim.close()));
    await dropTestDatabases();
  });

  it('GIVEN two clusters of different shapes WHEN both export, one loses a group to a 503, then its CRD THEN each holds exactly its scope and nothing of one touches the other', () =>
    withGitServer(async (server) => {
      const url = await freshDatabase();
      await initTables(url, testSinkConfig());
      const alphaSim = await start({ objects: 800, seed: 1 });
      const betaSim = await start({ objects: 600, seed: 2, withoutTypes: ['widgets.example.com'] });
      const alphaNamespaces = namespacesOf(alphaSim);
      const excluded = alphaNamespaces[EXCLUDED_NAMESPACE_INDEX]!;
      const config = await fleetConfig(await tempDir('kollect-fleet-'), server.url, excluded);
      const alpha = await clusterOf('alpha', alphaSim);
      const beta = await clusterOf('beta', betaSim);
      const scoped = (sim: KubeSim): string[] => namespacesOf(sim).filter((ns) => ns !== excluded);

      // WHEN both clusters export with the one configuration
      const [first, second] = [
        await run('collect', alpha, config, url),
        await run('collect', beta, config, url, ['--metrics-file', join(beta.dir, 'metrics.prom')]),
      ];

      // THEN each exits 0 and holds exactly what the API server selected, in the namespaces in scope
      for (const { run: process } of [first, second]) assert.equal(process.code, 0, process.stderr);
      assert.deepEqual((await storedCounts(url, 'alpha')).byType, expectedByType(alphaSim, scoped(alphaSim), true));
      assert.deepEqual((await storedCounts(url, 'beta')).byType, expectedByType(betaSim, scoped(betaSim), false));
      assert.equal((await storedCounts(url, 'alpha')).byNamespace[excluded], undefined);
      assert.deepEqual(
        second.result.discovery.notServed.map((t) => `${t.resource}.${t.group}`),
        ['widgets.example.com'],
      );
      const betaMetrics = parsePromText(await readFile(join(beta.dir, 'metrics.prom'), 'utf8'));
      assert.deepEqual(
        samplesOf(betaMetrics, 'kollect_discovery_problems', { problem: 'not-served' }).map((m) => [m.labels.resource, m.value]),
        [['widgets.example.com', 1]],
      );
      const betaRows = await storedRows(url, 'kollect_items', 'beta');
      const betaTree = await treeOf(server, 'beta');
      const alphaTree = await treeOf(server, 'alpha');
      assert.ok((await filesWithWidgets(server, 'alpha')) > 0);

      // WHEN alpha's example.com aggregated API answers 503 (the same cluster, its widgets unreachable)
      const down = await start({ objects: 800, seed: 1, unavailableGroups: ['example.com'] });
      const unavailable = await run('collect', { ...alpha, kubeconfig: (await clusterOf('alpha', down)).kubeconfig }, config, url);

      // THEN the run goes on (widgets are optional), reports it, and deletes nothing: not a row, not a file
      assert.equal(unavailable.run.code, 0, unavailable.run.stderr);
      assert.deepEqual(
        unavailable.result.discovery.discoveryFailed.map((f) => `${f.group}/${f.version}`),
        ['example.com/v1'],
      );
      assert.deepEqual((await storedCounts(url, 'alpha')).byType, expectedByType(alphaSim, scoped(alphaSim), true));
      assert.equal(await treeOf(server, 'alpha'), alphaTree);

      // WHEN alpha's widgets CRD is deleted
      const widgets = expectedByType(alphaSim, scoped(alphaSim), true)['widgets.example.com']!;
      alphaSim.removeTypes(['widgets.example.com']);
      const removed = await run('collect', alpha, config, url);

      // THEN exactly its rows go, from the table and from alpha's files, and beta's rows and files are as they were
      assert.equal(removed.run.code, 0, removed.run.stderr);
      assert.deepEqual((await storedCounts(url, 'alpha')).byType, expectedByType(alphaSim, scoped(alphaSim), false));
      const dbOutcome = removed.result.sinks.find((s) => s.sink === 'db');
      assert.ok(dbOutcome?.ok);
      assert.ok(widgets > 0);
      assert.equal(dbOutcome.result.totals.removed, widgets);
      assert.equal(dbOutcome.result.totals.added + dbOutcome.result.totals.changed, 0);
      assert.equal(await filesWithWidgets(server, 'alpha'), 0, JSON.stringify(removed.result.sinks.find((s) => s.sink === 'audit')));
      assert.deepEqual(await storedRows(url, 'kollect_items', 'beta'), betaRows);
      assert.equal(await treeOf(server, 'beta'), betaTree);
    }));

  it('GIVEN a cluster exported whole WHEN its RBAC allows only some namespaces and a run lists three of them THEN the allowed ones export, the forbidden one keeps its rows, the rest leave the inventory', async () => {
    const url = await freshDatabase();
    await initTables(url, testSinkConfig());
    await withGitServer(async (server) => {
      const full = await start({ objects: 600, seed: 3 });
      const namespaces = namespacesOf(full);
      const [allowedA, allowedB, forbidden] = namespaces as [string, string, string];
      const config = await fleetConfig(await tempDir('kollect-fleet-'), server.url, 'nothing-excluded');
      const gamma = await clusterOf('gamma', full);
      assert.equal((await run('collect', gamma, config, url)).run.code, 0);
      const before = await storedCounts(url, 'gamma');

      const limited = await start({ objects: 600, seed: 3, rbac: { namespaces: [allowedA, allowedB] } });
      const limitedGamma = { ...gamma, kubeconfig: (await clusterOf('gamma', limited)).kubeconfig };
      const flags = ['-n', `${allowedA},${allowedB},${forbidden}`];

      // WHEN a dry run plans it THEN it shows the rows outside the three namespaces leaving, and writes nothing
      const planned = await run('export', limitedGamma, config, url, ['--dry-run', ...flags]);
      assert.equal(planned.run.code, 0, planned.run.stderr);
      const outside = namespaces.filter((ns) => ![allowedA, allowedB, forbidden].includes(ns)).reduce((n, ns) => n + (before.byNamespace[ns] ?? 0), 0);
      const plan = planned.result.sinks.find((s) => s.sink === 'db');
      assert.ok(plan?.ok && outside > 0);
      assert.equal(plan.result.totals.removed, outside);
      assert.deepEqual(await storedCounts(url, 'gamma'), before);

      // WHEN it collects
      const limitedRun = await run('collect', limitedGamma, config, url, [...flags, '--metrics-file', join(gamma.dir, 'metrics.prom')]);

      // THEN exit 0; the allowed namespaces hold exactly what they serve; the forbidden one keeps its rows; no other namespace has any
      assert.equal(limitedRun.run.code, 0, limitedRun.run.stderr);
      const after = await storedCounts(url, 'gamma');
      for (const ns of [allowedA, allowedB]) {
        const expected = Object.values(expectedByType(full, [ns], true)).reduce((a, b) => a + b, 0);
        assert.equal(after.byNamespace[ns] ?? 0, expected, ns);
      }
      assert.equal(after.byNamespace[forbidden], before.byNamespace[forbidden]);
      assert.deepEqual(Object.keys(after.byNamespace).sort(), [allowedA, allowedB, forbidden].sort());
      const pods = limitedRun.result.incomplete.find((t) => t.resource === 'pods');
      assert.deepEqual(pods?.incompleteNamespaces, [forbidden]);
      const metrics = parsePromText(await readFile(join(gamma.dir, 'metrics.prom'), 'utf8'));
      assert.deepEqual(
        samplesOf(metrics, 'kollect_collect_incomplete_namespaces', { resource: 'pods' }).map((m) => m.value),
        [1],
      );
    });
  });
});
