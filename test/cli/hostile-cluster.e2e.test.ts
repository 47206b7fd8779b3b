import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CollectStore } from '../../src/store/collect-store.js';
import { logLines, runKollect } from '../support/cli.js';
import { setup as e2eSetup, type Setup } from '../support/e2e-setup.js';
import { startKubeSim, type KubeSim } from '../support/kube-sim/index.js';
import { dropTestDatabases, freshDatabase, initTables, ITEMS_TABLE, testSinkConfig, withClient } from '../support/postgres.js';
import { parsePromText, samplesOf } from '../support/prom-text.js';
import { tempDir } from '../support/store-fixture.js';

/**
 * Issue 28, items 5, 6 and 8, through the CLI: a Secret's data in its last-applied annotation,
 * objects whose namespace or name would lead a path out of a sink's folder, and RBAC that
 * forbids every type.
 */

const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';
const ESCAPING_NAMESPACE = '../../../../escaped';
const ESC = '\u001b';

const TYPES = [
  '{ version: v1, resource: nodes }',
  '{ version: v1, resource: pods }',
  '{ version: v1, resource: configmaps }',
  '{ version: v1, resource: secrets }',
  '{ group: apps, version: v1, resource: deployments }',
];

const meta = (namespace: string, name: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  metadata: {
    name,
    namespace,
    uid: `uid-${namespace}-${name}`,
    resourceVersion: '7',
    creationTimestamp: '2026-12-07T19:22:15Z',
    labels: { app: 'hostile' },
    ...extra,
  },
});

/**
 * The shared end-to-end setup with this file's types and its file sink three folders down: a path
 * that climbs out of it would land in the temporary folder, where the test looks.
 */
async function setup(sim: KubeSim, yaml: string[] = []): Promise<Setup & { metrics: string }> {
  const s = await e2eSetup(sim, { resources: TYPES, list: '{ pageSize: 200, retries: 1 }', out: join('a', 'b', 'out'), yaml: yaml.join('\n') });
  return { ...s, metrics: join(s.dir, 'kollect.prom') };
}

/** Every file under `dir`, relative, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

/** Every shard document the file sink wrote, as one text. */
async function exportedText(out: string): Promise<string> {
  const files = (await filesUnder(out)).filter((f) => f.startsWith('clusters/'));
  return (await Promise.all(files.map((f) => readFile(join(out, f), 'utf8')))).join('\n');
}

/** kollect_collect_resource_complete as the run should have published it: 1 for every type but those of `incomplete` (type to reason). */
function completenessWith(incomplete: Record<string, string>): Record<string, [number, string]> {
  const keys = ['nodes', 'pods', 'configmaps', 'secrets', 'deployments.apps'];
  return Object.fromEntries(keys.map((key) => [key, incomplete[key] === undefined ? [1, ''] : [0, incomplete[key]]]));
}

async function completeness(metricsFile: string): Promise<Record<string, [number, string]>> {
  const families = parsePromText(await readFile(metricsFile, 'utf8'));
  return Object.fromEntries(samplesOf(families, 'kollect_collect_resource_complete').map((s) => [s.labels.resource!, [s.value, s.labels.reason!]]));
}

describe('kollect config validate: Secret profiles that would read Secret data (item 5)', () => {
  const leaky: Array<[string, string, string]> = [
    ['the last-applied annotation', `'metadata.annotations["${LAST_APPLIED}"]'`, 'metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]'],
    ['the whole annotations map', 'metadata.annotations', 'metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]'],
    ['the annotations map, bracketed', `'metadata["annotations"]'`, 'metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]'],
    ['metadata whole', 'metadata', 'metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]'],
    ['a data key', 'data.password', 'data'],
    ['stringData', 'stringData', 'stringData'],
  ];
  for (const [what, path, field] of leaky) {
    it(`GIVEN a Secret profile reading ${what} THEN exit 2 naming the attribute and the field, and collect refuses it too`, async () => {
      // GIVEN
      const dir = await tempDir('kollect-secret-profile-');
      const config = join(dir, 'kollect.yaml');
      await writeFile(
        config,
        [
          'cluster: c1',
          'resources:',
          '  - { version: v1, resource: secrets, profile: leaky }',
          'profiles:',
          `  leaky: { attributes: { team: 'metadata.labels.team', sneaky: ${path} } }`,
        ].join('\n'),
      );
      // WHEN
      const run = await runKollect(['config', 'validate', config, '--output', 'json']);
      // THEN
      assert.equal(run.code, 2, run.stderr);
      const result = JSON.parse(run.stdout) as { valid: boolean; issues: Array<{ path: string; message: string }> };
      assert.deepEqual(
        result.issues.map((i) => i.path),
        ['profiles.leaky.attributes.sneaky'],
      );
      assert.ok(result.issues[0]!.message.includes(`reads ${field} of Secrets (resources[0] uses profile "leaky")`), result.issues[0]!.message);
      const collect = await runKollect(['collect', '--config', config]);
      assert.equal(collect.code, 2);
      assert.equal(logLines(collect).pop()?.code, 'CONFIG_INVALID');
    });
  }

  it('GIVEN a profile named "secret" reading the annotations, with the default resources THEN exit 2: Secrets use it by default', async () => {
    const dir = await tempDir('kollect-secret-profile-');
    const config = join(dir, 'kollect.yaml');
    await writeFile(config, ['cluster: c1', 'profiles:', '  secret: { attributes: { notes: metadata.annotations } }'].join('\n'));
    const run = await runKollect(['config', 'validate', config, '--output', 'json']);
    assert.equal(run.code, 2, run.stderr);
    const result = JSON.parse(run.stdout) as { issues: Array<{ path: string; message: string }> };
    assert.deepEqual(
      result.issues.map((i) => i.path),
      ['profiles.secret.attributes.notes'],
    );
    assert.match(result.issues[0]!.message, /the default resource secrets uses profile "secret"/);
  });

  it('GIVEN the same reads on ConfigMaps, or one other annotation of Secrets THEN the config is valid', async () => {
    const dir = await tempDir('kollect-secret-profile-');
    const config = join(dir, 'kollect.yaml');
    await writeFile(
      config,
      [
        'cluster: c1',
        'resources:',
        '  - { version: v1, resource: configmaps, profile: wide }',
        '  - { version: v1, resource: secrets, profile: owner }',
        'profiles:',
        `  wide: { attributes: { notes: metadata.annotations, applied: 'metadata.annotations["${LAST_APPLIED}"]' } }`,
        `  owner: { attributes: { owner: 'metadata.annotations["example.com/owner"]' } }`,
      ].join('\n'),
    );
    const run = await runKollect(['config', 'validate', config]);
    assert.equal(run.code, 0, run.stderr);
  });
});

describe('kollect collect against a hostile API server (items 5 and 6)', () => {
  let sim: KubeSim;
  before(async () => {
    sim = await startKubeSim({
      objects: 2_000,
      seed: 7,
      extraObjects: {
        // Metadata-only lists (the lean parse of row fields), and full objects (the pod profile).
        configmaps: [meta(ESCAPING_NAMESPACE, 'evil'), meta('default', '..'), meta('default', `red${ESC}[31m\u202eflipped`)],
        pods: [meta('default', '../../../../../escaped-pod', { annotations: { note: 'x' } })],
        secrets: [
          meta('default', 'applied', {
            annotations: { [LAST_APPLIED]: `{"data":{"password":"${'TEAK-SECRET'}"}}`, 'example.com/owner': 'team-a' },
            labels: { app: 'hostile', [LAST_APPLIED]: 'TEAK-SECRET-IN-A-LABEL' },
          }),
        ],
      },
    });
  });
  after(async () => sim.close());

  for (const workers of [0, 2]) {
    it(`GIVEN objects with namespace "${ESCAPING_NAMESPACE}", name "..", and a name with control characters (workers ${workers}) THEN they are refused and named escaped, the rest is exported, exit 0, nothing outside the folder`, async () => {
      // GIVEN
      const s = await setup(sim);
      // WHEN
      const run = await runKollect(['collect', '--config', s.config, '--workers', String(workers), '--metrics-file', s.metrics, '--output', 'json']);
      // THEN: a warning, like a 403's: the other types are whole and exported.
      assert.equal(run.code, 0, run.stderr);
      const warnings = logLines(run)
        .filter((line) => line.level === 'warn')
        .map((line) => String(line.msg));
      assert.ok(
        warnings.some((w) => w.includes(`refused an object of configmaps: namespace "${ESCAPING_NAMESPACE}" name "evil"`)),
        warnings.join('\n'),
      );
      assert.ok(
        warnings.some((w) => w.includes('refused an object of configmaps: namespace "default" name ".."')),
        warnings.join('\n'),
      );
      assert.ok(
        warnings.some((w) => w.includes('name "red\\u001b[31m\\u202eflipped"')),
        warnings.join('\n'),
      );
      assert.ok(
        warnings.some((w) => w.includes('refused an object of pods: namespace "default" name "../../../../../escaped-pod"')),
        warnings.join('\n'),
      );
      assert.ok(!run.stderr.includes(ESC) && !run.stderr.includes('\u202e'), 'a control character reached the log unescaped');

      const store = await CollectStore.open(s.store);
      const status = Object.fromEntries(store.resources.map((r) => [r.resource, [r.complete, r.reason ?? '']]));
      assert.deepEqual(status, {
        nodes: [true, ''],
        pods: [false, 'invalid-object'],
        configmaps: [false, 'invalid-object'],
        secrets: [true, ''],
        deployments: [true, ''],
      });
      const expected = sim.expectedCounts().byType;
      assert.deepEqual(Object.fromEntries(store.resources.map((r) => [r.resource, r.rows])), {
        nodes: expected.nodes,
        pods: expected.pods,
        configmaps: expected.configmaps,
        secrets: expected.secrets! + 1,
        deployments: expected['deployments.apps'],
      });
      assert.deepEqual(await completeness(s.metrics), completenessWith({ pods: 'invalid-object', configmaps: 'invalid-object' }));

      // Nothing outside the sink's folder, and no file for a refused namespace inside it.
      const outside = (await filesUnder(s.dir)).filter((f) => !f.startsWith('a/b/out/') && !f.startsWith('store/'));
      assert.deepEqual(outside.sort(), ['kollect.prom', 'kollect.yaml', 'kubeconfig']);
      const exported = await exportedText(s.out);
      assert.ok(!exported.includes('escaped') && !exported.includes('"evil"'), 'a refused object was exported');
    });
  }

  it('GIVEN a Secret whose last-applied annotation (and a label of that name) holds its data, and a profile reading another annotation THEN its row in the files keeps that one and carries neither', async () => {
    // GIVEN
    const s = await setup(sim, [`profiles: { secret: { attributes: { owner: 'metadata.annotations["example.com/owner"]' } } }`]);
    // WHEN
    const run = await runKollect(['collect', '--config', s.config]);
    // THEN
    assert.equal(run.code, 0, run.stderr);
    const exported = await exportedText(s.out);
    const row = exported.split('\n').find((line) => line.includes('"name":"applied"'));
    assert.ok(row?.includes('"owner":"team-a"'), `the allowed annotation is not in the row: ${row}`);
    assert.ok(!exported.includes('TEAK-SECRET'), 'the last-applied annotation of a Secret reached the file sink');
  });
});

describe('kollect collect with RBAC that forbids types (item 8)', () => {
  let sim: KubeSim;
  before(async () => {
    sim = await startKubeSim({ objects: 1_000, seed: 3 });
  });
  after(async () => sim.close());

  it('GIVEN every configured type forbidden THEN exit 1, the summary and the log say no type was listed completely, and the gauge is 0 for each', async () => {
    // GIVEN
    const s = await setup(sim);
    for (const resource of ['nodes', 'pods', 'configmaps', 'secrets', 'deployments']) sim.inject({ kind: 'status', status: 403, resource, times: Infinity });
    // WHEN
    const run = await runKollect(['collect', '--config', s.config, '--metrics-file', s.metrics]);
    sim.clearFaults();
    // THEN
    assert.equal(run.code, 1, run.stderr);
    assert.match(run.stdout.trimEnd().split('\n').pop() ?? '', /^FAILED \(exit 1\): no resource type was listed completely/);
    const error = logLines(run).find((line) => line.level === 'error');
    assert.match(String(error?.msg), /^no resource type was listed completely, the run fails: nodes \(forbidden\), pods \(forbidden\), .*ClusterRole/);
    const forbidden = { nodes: 'forbidden', pods: 'forbidden', configmaps: 'forbidden', secrets: 'forbidden', 'deployments.apps': 'forbidden' };
    assert.deepEqual(await completeness(s.metrics), completenessWith(forbidden));
  });

  it('GIVEN one type forbidden THEN exit 0 with a warning, and the gauge says which', async () => {
    const s = await setup(sim);
    sim.inject({ kind: 'status', status: 403, resource: 'secrets', times: Infinity });
    const run = await runKollect(['collect', '--config', s.config, '--metrics-file', s.metrics]);
    sim.clearFaults();
    assert.equal(run.code, 0, run.stderr);
    assert.ok(logLines(run).some((line) => line.level === 'warn' && /forbidden to list secrets/.test(String(line.msg))));
    assert.deepEqual(await completeness(s.metrics), completenessWith({ secrets: 'forbidden' }));
  });
});

describe('kollect collect into PostgreSQL against a server that sends an impossible creation time', () => {
  let sim: KubeSim;
  before(async () => {
    // 30 February looks like a time to a quick check; PostgreSQL's timestamptz refuses it, and
    // before this was checked, the COPY of the whole cluster failed on it, run after run.
    sim = await startKubeSim({
      objects: 1_000,
      seed: 11,
      extraObjects: { 'deployments.apps': [meta('default', 'leap', { creationTimestamp: '2026-02-30T00:00:00Z' })] },
    });
  });
  after(async () => {
    await sim.close();
    await dropTestDatabases();
  });

  it('GIVEN a Deployment created on 2026-02-30 WHEN collected into PostgreSQL THEN it is refused and named, every other row is written, nothing of deployments is deleted, exit 0', async () => {
    // GIVEN
    const url = await freshDatabase();
    await initTables(url, testSinkConfig());
    const s = await setup(sim, ['  - { name: fleet-db, type: postgres, ssl: { mode: disable } }']);
    // WHEN
    const run = await runKollect(['collect', '--config', s.config, '--output', 'json'], { env: { DATABASE_URL: url } });
    // THEN
    assert.equal(run.code, 0, run.stderr);
    const warnings = logLines(run)
      .filter((line) => line.level === 'warn')
      .map((line) => String(line.msg));
    assert.ok(
      warnings.some((w) => w.includes('refused an object of deployments.apps: namespace "default" name "leap"')),
      `${warnings.join('\n')}\n${run.stderr}\n${run.stdout}`,
    );
    const result = JSON.parse(run.stdout) as {
      store: { rows: number };
      incomplete: Array<{ resource: string; reason: string }>;
      sinks: Array<{ sink: string; ok: boolean }>;
    };
    assert.deepEqual(
      result.incomplete.map((r) => [r.resource, r.reason]),
      [['deployments', 'invalid-object']],
    );
    assert.ok(
      result.sinks.every((sink) => sink.ok),
      JSON.stringify(result.sinks),
    );
    const stored = await withClient(
      url,
      async (c) => (await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${ITEMS_TABLE} WHERE cluster = 'e2e'`)).rows[0]!.n,
    );
    const expected = sim.expectedCounts().byType;
    assert.equal(result.store.rows, expected.nodes! + expected.pods! + expected.configmaps! + expected.secrets! + expected['deployments.apps']!);
    assert.equal(Number(stored), result.store.rows);
  });
});
