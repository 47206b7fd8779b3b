import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { logLines, runKollect } from '../support/cli.js';
import { startKubeSim, type KubeSim } from '../support/kube-sim/index.js';
import { tempDir } from '../support/store-fixture.js';

interface JsonReport {
  failing: string[];
  incomplete: Array<{ resource: string; reason: string }>;
  failedTypes: string[];
  totals: { rows: number };
}

/** A config for the simulated cluster, with `extra` lines added (shard thresholds...). */
async function setup(sim: KubeSim, extra: string[] = []): Promise<{ config: string; store: string }> {
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
      ...extra,
    ].join('\n'),
  );
  return { config, store };
}

describe('kollect shard-report and collect against a simulated cluster', () => {
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

  it('GIVEN warnBytes of 4 KiB and shards far under warnRows WHEN collect THEN the ExportShardWarning, the result and shard-report say bytes, not rows', async () => {
    const { config, store } = await setup(sim, ['shards: { warnBytes: 4096 }']);

    const run = await runKollect(['collect', '--config', config, '--output', 'json']);
    assert.equal(run.code, 0, run.stderr);
    const { shardWarnings } = JSON.parse(run.stdout) as { shardWarnings: Array<{ shard: string; rows: number; status: string; reason: string }> };
    assert.ok(shardWarnings.length > 0, 'no shard warned');
    assert.ok(shardWarnings.every((w) => w.status === 'warn' && w.rows < 1800));
    for (const warning of shardWarnings) assert.match(warning.reason, /^\d+\.\d KiB \(warn at 4\.0 KiB\)$/, warning.reason);
    const messages = logLines(run)
      .filter((l) => String(l.msg).startsWith('ExportShardWarning'))
      .map((l) => String(l.msg));
    assert.equal(messages.length, shardWarnings.length);
    for (const message of messages) {
      assert.match(message, /^ExportShardWarning: shard \S+ is warn: it has \d+\.\d KiB \(warn at 4\.0 KiB\); keep shards under 2,000 rows and 4\.0 KiB$/);
      assert.doesNotMatch(message, /\d rows \(warn/);
    }

    const table = await runKollect(['shard-report', '--config', config, '--from', store]);
    assert.equal(table.code, 0, table.stderr);
    const warned = shardWarnings[0]!.shard;
    assert.match(table.stdout, new RegExp(`^${warned} .*WARN +\\d+\\.\\d KiB \\(warn at 4\\.0 KiB\\)$`, 'm'));
    assert.match(table.stdout, /limits: warn at 1800 rows or 4\.0 KiB/);
  });
});
