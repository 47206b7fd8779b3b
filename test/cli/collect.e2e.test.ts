import assert from 'node:assert/strict';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CollectStore } from '../../src/store/collect-store.js';
import { CLUSTER_SHARD } from '../../src/rows/row.js';
import { runKollect } from '../support/cli.js';
import { startKubeSim, type KubeSim } from '../support/kube-sim/index.js';
import { setup } from '../support/e2e-setup.js';

async function filesUnder(root: string): Promise<Map<string, { mtimeMs: number; text: string }>> {
  const files = new Map<string, { mtimeMs: number; text: string }>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else files.set(relative(root, full), { mtimeMs: (await stat(full)).mtimeMs, text: await readFile(full, 'utf8') });
    }
  };
  await walk(root);
  return files;
}

/** Every object the server serves is in the store exactly once, in the right shard. */
async function assertExactlyOnce(sim: KubeSim, storeDir: string): Promise<void> {
  const store = await CollectStore.open(storeDir);
  const expected = sim.expectedCounts();
  assert.equal(store.manifest.totals.rows, expected.total);
  const byShard = Object.fromEntries(store.shards.map((s) => [s.key, s.rows]));
  const expectedByShard = Object.fromEntries(Object.entries(expected.byNamespace).map(([ns, n]) => [ns === '' ? CLUSTER_SHARD : ns, n]));
  assert.deepEqual(byShard, expectedByShard);
  const uids = new Set<string>();
  for await (const row of store.rows()) {
    assert.ok(!uids.has(`${row.resource}/${row.uid}`), `duplicate row ${row.resource}/${row.namespace}/${row.name}`);
    uids.add(`${row.resource}/${row.uid}`);
  }
  assert.equal(uids.size, expected.total);
}

describe('kollect collect against the local API server (20,000 objects)', () => {
  let sim: KubeSim;
  before(async () => {
    sim = await startKubeSim({ objects: 20_000, seed: 42 });
  });
  after(async () => sim.close());

  it('GIVEN page size 500 THEN every object arrives exactly once across shards, and a second run rewrites no file', async () => {
    const s = await setup(sim);
    const first = await runKollect(['collect', '--config', s.config, '--output', 'json']);
    assert.equal(first.code, 0, first.stderr);
    const result = JSON.parse(first.stdout) as { ok: boolean; sinks: Array<{ ok: boolean; result: { totals: { added: number } } }> };
    assert.equal(result.ok, true);
    await assertExactlyOnce(sim, s.store);
    const store = await CollectStore.open(s.store);
    assert.equal(result.sinks[0]?.result.totals.added, store.shards.length);
    const before = await filesUnder(s.out);

    const second = await runKollect(['collect', '--config', s.config, '--output', 'json']);
    assert.equal(second.code, 0, second.stderr);
    const after = await filesUnder(s.out);
    for (const [path, file] of before) {
      if (path.startsWith('.kollect')) continue;
      assert.equal(after.get(path)?.mtimeMs, file.mtimeMs, `${path} was rewritten`);
    }
    assert.match(second.stdout, /"reason": "unchanged"/);
  });

  it('GIVEN a 410 on page 7, a 429, a 500 and a dropped connection THEN still exactly once', async () => {
    const s = await setup(sim);
    sim.clearFaults();
    sim.inject({ kind: 'status', status: 410, resource: 'pods', page: 7 });
    sim.inject({ kind: 'status', status: 429, resource: 'configmaps', page: 2, retryAfterSeconds: 1 });
    sim.inject({ kind: 'status', status: 500, resource: 'secrets', page: 3 });
    sim.inject({ kind: 'drop', resource: 'deployments', page: 2 });
    const run = await runKollect(['collect', '--config', s.config]);
    sim.clearFaults();
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /continue token expired/);
    await assertExactlyOnce(sim, s.store);
  });

  it('GIVEN a 403 on one type THEN exit 0 with a warning, the type is incomplete, and its rows stay in the files', async () => {
    const s = await setup(sim);
    assert.equal((await runKollect(['collect', '--config', s.config])).code, 0);
    const before = await filesUnder(s.out);
    sim.inject({ kind: 'status', status: 403, resource: 'configmaps', times: Infinity });
    const run = await runKollect(['collect', '--config', s.config, '--output', 'json']);
    sim.clearFaults();
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stderr, /forbidden to list configmaps/);
    const store = await CollectStore.open(s.store);
    const configmaps = store.resources.find((r) => r.resource === 'configmaps');
    assert.equal(configmaps?.complete, false);
    assert.equal(configmaps?.reason, 'forbidden');
    const after = await filesUnder(s.out);
    let withConfigMaps = 0;
    for (const [path, file] of before) {
      if (path.startsWith('.kollect')) continue;
      assert.equal(after.get(path)?.text, file.text, `${path} changed`);
      assert.equal(after.get(path)?.mtimeMs, file.mtimeMs, `${path} was rewritten`);
      if (file.text.includes('"kind":"ConfigMap"')) withConfigMaps++;
    }
    assert.ok(withConfigMaps > 0, 'the first export wrote configmap rows');
  });

  it('GIVEN a list that fails after its retries THEN exit 1, and the summary ends saying why', async () => {
    // One quick retry: a 500 that never ends fails the list in well under a second.
    const s = await setup(sim, { resources: ['{ version: v1, resource: nodes }', '{ version: v1, resource: pods }'], list: '{ pageSize: 500, retries: 1 }' });
    sim.inject({ kind: 'status', status: 500, resource: 'pods', page: 2, times: Infinity });
    const run = await runKollect(['collect', '--config', s.config]);
    sim.clearFaults();
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout, /Incomplete: pods \(error\)/);
    assert.match(run.stdout.trimEnd().split('\n').pop() ?? '', /^FAILED \(exit 1\): the list of pods did not complete$/);
  });

  it('GIVEN SIGTERM in the middle of a list THEN exit 1 INTERRUPTED, quickly, and the previous store and files stay whole', { timeout: 60_000 }, async () => {
    const s = await setup(sim);
    assert.equal((await runKollect(['collect', '--config', s.config])).code, 0);
    const storeBefore = await filesUnder(s.store);
    const filesBefore = await filesUnder(s.out);
    // A Retry-After of an hour (kollect waits two minutes at most) holds the run in the middle of
    // the pods list; the signal comes once that page was asked for. Only a run that the signal
    // stops ends within the test's timeout.
    sim.inject({ kind: 'status', status: 429, resource: 'pods', page: 3, retryAfterSeconds: 3600 });
    sim.resetStats();
    const heldPageAskedFor = async (): Promise<void> => {
      while ((sim.stats.byPath['/api/v1/pods'] ?? 0) < 3) await new Promise((resolve) => setTimeout(resolve, 20));
    };
    const run = await runKollect(['collect', '--config', s.config], {
      onSpawn: (pid) => void heldPageAskedFor().then(() => process.kill(pid, 'SIGTERM')),
    });
    sim.clearFaults();
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stderr, /SIGTERM received/);
    assert.match(run.stderr, /INTERRUPTED/);
    assert.deepEqual(await filesUnder(s.store), storeBefore);
    assert.deepEqual(await filesUnder(s.out), filesBefore);
    assert.deepEqual(
      (await readdir(s.dir)).filter((name) => name.includes('partial')),
      [],
    );
  });

  it('GIVEN apps/v1 deployments without a profile THEN the built-in deployment profile keeps replicas and images', async () => {
    const s = await setup(sim, { resources: ['{ group: apps, version: v1, resource: deployments }'] });
    const run = await runKollect(['collect', '--config', s.config, '--output', 'json']);
    assert.equal(run.code, 0, run.stderr);
    const result = JSON.parse(run.stdout) as { collection: { resources: Array<{ resource: string; profile: string; metadataOnly: boolean }> } };
    assert.deepEqual(
      result.collection.resources.map((r) => [r.resource, r.profile, r.metadataOnly]),
      [['deployments', 'deployment', false]],
    );
    const store = await CollectStore.open(s.store);
    let rows = 0;
    for await (const row of store.rows()) {
      assert.equal(typeof row.attributes.replicas, 'number', `${row.namespace}/${row.name}: ${JSON.stringify(row.attributes)}`);
      assert.ok(Array.isArray(row.attributes.images));
      rows++;
    }
    assert.equal(rows, sim.expectedCounts().byType['deployments.apps']);
  });

  it('GIVEN a store folder that cannot be written THEN exit 1 STORE_UNWRITABLE saying where the volume goes, not an internal error', async () => {
    const s = await setup(sim, { resources: ['{ version: v1, resource: nodes }'] });
    // A file where the store's parent folder should be: the same failure as a read-only root
    // filesystem above store.dir, for root and non-root alike.
    const notAFolder = join(s.dir, 'not-a-folder');
    await writeFile(notAFolder, '');
    const run = await runKollect(['collect', '--config', s.config, '--store', join(notAFolder, 'store')]);
    assert.equal(run.code, 1, run.stderr);
    const error = JSON.parse(run.stderr.trim().split('\n').pop() ?? '{}') as { code?: string; message?: string; dir?: string };
    assert.equal(error.code, 'STORE_UNWRITABLE');
    assert.equal(error.dir, join(notAFolder, 'store'));
    assert.match(error.message ?? '', /ENOTDIR .*mounted on its parent/);
    assert.doesNotMatch(run.stderr, /internal error|\n\s+at /);
  });

  it('GIVEN a broken config THEN exit 2 naming the field, before any request reaches the API server', async () => {
    const s = await setup(sim, { yaml: '  - { name: broken, type: file, dir: x, pathTemplate: "no-namespace.json" }' });
    sim.resetStats();
    const run = await runKollect(['collect', '--config', s.config]);
    assert.equal(run.code, 2);
    assert.match(run.stderr, /sinks\[1\]\.pathTemplate/);
    assert.equal(sim.stats.requests, 0);
  });

  it('GIVEN a kubeconfig whose YAML breaks right below its bearer token THEN exit 2 KUBECONFIG_INVALID with the line and column, and no part of the token in any output', async () => {
    const s = await setup(sim);
    // The shape of an OpenShift token; js-yaml's code frame quoted its first 22 characters.
    const token = 'sha256~q7Zk3vN0pR2sT9uW4xY6aB8cD1eF5gH0iJ2kL4mN6oP';
    const kubeconfig = join(s.dir, 'kubeconfig');
    await writeFile(kubeconfig, ['apiVersion: v1', 'kind: Config', 'users:', '- name: u', '  user:', `    token: ${token}`, '   bad indent: here'].join('\n'));

    const runs = [await runKollect(['collect', '--config', s.config]), await runKollect(['collect', '--config', s.config, '--output', 'json'])];

    for (const run of runs) {
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /KUBECONFIG_INVALID/);
      assert.match(run.stderr, /line 7, column 4: bad indentation of a mapping entry/);
      for (const [stream, text] of [
        ['stdout', run.stdout],
        ['stderr', run.stderr],
      ] as const) {
        assert.ok(!text.includes(token.slice(0, 12)) && !text.includes(token.slice(-12)), `token in ${stream}:\n${text}`);
      }
    }
  });

  it("GIVEN export --from a store of another cluster THEN exit 2 naming both, nothing exported; --cluster makes it the store's", async () => {
    const s = await setup(sim, { resources: ['{ version: v1, resource: nodes }'] });
    assert.equal((await runKollect(['collect', '--config', s.config, '--cluster', 'prod-eu-1'])).code, 0);
    await rm(s.out, { recursive: true, force: true });
    const wrong = await runKollect(['export', '--config', s.config, '--from', s.store]);
    assert.equal(wrong.code, 2, wrong.stderr);
    const error = JSON.parse(wrong.stderr.trim().split('\n').pop() ?? '{}') as { code?: string; message?: string };
    assert.equal(error.code, 'USAGE');
    assert.match(error.message ?? '', /collected for cluster "prod-eu-1", but the configuration's cluster is "e2e"; pass --cluster prod-eu-1/);
    await assert.rejects(stat(s.out), 'the file sink was not touched');
    const right = await runKollect(['export', '--config', s.config, '--from', s.store, '--cluster', 'prod-eu-1']);
    assert.equal(right.code, 0, right.stderr);
    assert.ok((await filesUnder(s.out)).size > 0);
  });

  it('GIVEN the oversize namespace THEN shard-report exits 1, and 0 once the thresholds are raised', async () => {
    const s = await setup(sim);
    assert.equal((await runKollect(['collect', '--config', s.config, '--sink', 'files'])).code, 0);
    const report = await runKollect(['shard-report', '--config', s.config, '--from', s.store, '--format', 'json']);
    assert.equal(report.code, 1, report.stderr);
    const parsed = JSON.parse(report.stdout) as { failing: string[]; shards: Array<{ key: string; rows: number; status: string }> };
    assert.ok(parsed.failing.length >= 1);
    assert.ok(parsed.shards.some((x) => x.status === 'too-large' && x.rows > 2500));
    const raised = await setup(sim, { yaml: 'shards: { warnRows: 90000, targetRows: 95000, maxRows: 100000, warnBytes: 90000000, maxBytes: 100000000 }' });
    const ok = await runKollect(['shard-report', '--config', raised.config, '--from', s.store]);
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.match(ok.stdout, /PASS/);
  });

  it('GIVEN metadata-only profiles THEN the server sends at least 3x fewer bytes, and no Secret value is anywhere', async () => {
    const full = await setup(sim, {
      resources: ['{ version: v1, resource: configmaps, profile: withdata }', '{ version: v1, resource: pods, profile: podfull }'],
      yaml: 'profiles:\n  withdata: { attributes: { first: "data.key0" } }\n  podfull: { attributes: { phase: status.phase } }',
    });
    sim.resetStats();
    assert.equal((await runKollect(['collect', '--config', full.config])).code, 0);
    const fullBytes = sim.stats.bytes;
    const lean = await setup(sim, { resources: ['{ version: v1, resource: configmaps }', '{ version: v1, resource: pods, profile: metadata }'] });
    sim.resetStats();
    assert.equal((await runKollect(['collect', '--config', lean.config])).code, 0);
    const leanBytes = sim.stats.bytes;
    assert.ok(fullBytes >= 3 * leanBytes, `full ${fullBytes} bytes vs metadata-only ${leanBytes}`);

    const secrets = await setup(sim);
    assert.equal((await runKollect(['collect', '--config', secrets.config])).code, 0);
    for (const root of [secrets.store, secrets.out]) {
      for (const [path, file] of await filesUnder(root)) {
        assert.ok(!file.text.includes(sim.secretMarker), `${path} holds a Secret value`);
      }
    }
    const store = await CollectStore.open(secrets.store);
    assert.ok((store.resources.find((r) => r.resource === 'secrets')?.rows ?? 0) > 0, 'secrets were collected (as metadata)');
  });
});
