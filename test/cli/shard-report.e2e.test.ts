import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runKollect } from '../support/cli.js';
import { startKubeSim, type KubeSim } from '../support/kube-sim/index.js';
import { tempDir } from '../support/store-fixture.js';

interface JsonReport {
  failing: string[];
  incomplete: Array<{ resource: string; reason: string }>;
  failedTypes: string[];
  totals: { rows: number };
}

async function setup(sim: KubeSim): Promise<{ config: string; store: string }> {
  const dir = await tempDir('kollect-shard-report-');
  const kubeconfig = join(dir, 'kubeconfig');
  await sim.writeKubeconfig(kubeconfig);
  const store = join(dir, 'store');
  const config = join(dir, 'kollect.yaml');
  await writeFile(
    config,
    [
      'cluster: e2e',
      `kube: { kubeconfig: ${JSON.stringify(kubeconfig)} }`,
      // One quick retry: a 500 that never ends fails the list in well under a second.
      'list: { pageSize: 200, retries: 1 }',
      `store: { dir: ${JSON.stringify(store)} }`,
      'sinks:',
      `  - { name: files, type: file, dir: ${JSON.stringify(join(dir, 'out'))} }`,
    ].join('\n'),
  );
  return { config, store };
}

describe('kollect shard-report when a list does not complete', () => {
  let sim: KubeSim;
  before(async () => {
    sim = await startKubeSim({ objects: 3_000, seed: 5 });
  });
  after(async () => sim.close());

  it('GIVEN the live cluster and every list complete THEN exit 0 and nothing is incomplete', async () => {
    const s = await setup(sim);
    const run = await runKollect(['shard-report', '--config', s.config, '--format', 'json']);
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as JsonReport;
    assert.deepEqual(report.incomplete, []);
    assert.deepEqual(report.failedTypes, []);
    assert.equal(report.totals.rows, sim.expectedCounts().total - (sim.expectedCounts().byType['widgets.example.com'] ?? 0));
  });

  it('GIVEN the live cluster and a pods list failing after retries THEN exit 1 naming pods, not a PASS on the rows that arrived', async () => {
    const s = await setup(sim);
    sim.inject({ kind: 'status', status: 500, resource: 'pods', page: 2, times: Infinity });
    const run = await runKollect(['shard-report', '--config', s.config, '--format', 'json']);
    const text = await runKollect(['shard-report', '--config', s.config]);
    sim.clearFaults();
    assert.equal(run.code, 1, run.stderr);
    const report = JSON.parse(run.stdout) as JsonReport;
    assert.deepEqual(report.failing, []);
    assert.deepEqual(report.failedTypes, ['pods']);
    assert.deepEqual(report.incomplete, [{ resource: 'pods', reason: 'error' }]);
    assert.equal(text.code, 1);
    assert.match(text.stdout, /Incomplete: pods \(error\)/);
    assert.match(text.stdout, /FAIL: the list of pods did not complete/);
    assert.doesNotMatch(text.stdout, /PASS/);
  });

  it('GIVEN the live cluster and a 403 on secrets THEN exit 0, as in collect, with secrets named as not counted', async () => {
    const s = await setup(sim);
    sim.inject({ kind: 'status', status: 403, resource: 'secrets', times: Infinity });
    const run = await runKollect(['shard-report', '--config', s.config, '--format', 'json']);
    const markdown = await runKollect(['shard-report', '--config', s.config, '--format', 'markdown']);
    sim.clearFaults();
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as JsonReport;
    assert.deepEqual(report.incomplete, [{ resource: 'secrets', reason: 'forbidden' }]);
    assert.deepEqual(report.failedTypes, []);
    assert.equal(markdown.code, 0);
    assert.match(markdown.stdout, /Incomplete: secrets \(forbidden\)/);
  });

  it('GIVEN a saved store whose pods list failed THEN shard-report --from exits 1 too', async () => {
    const s = await setup(sim);
    sim.inject({ kind: 'status', status: 500, resource: 'pods', page: 2, times: Infinity });
    const collect = await runKollect(['collect', '--config', s.config]);
    sim.clearFaults();
    assert.equal(collect.code, 1, collect.stderr);
    const run = await runKollect(['shard-report', '--config', s.config, '--from', s.store, '--format', 'json']);
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual((JSON.parse(run.stdout) as JsonReport).failedTypes, ['pods']);
  });
});
