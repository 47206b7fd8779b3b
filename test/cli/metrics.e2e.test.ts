import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunResult } from '../../src/run.js';
import { rowChecksum } from '../../src/rows/project.js';
import { CLUSTER_SHARD, type Row } from '../../src/rows/row.js';
import type { SinkPlan } from '../../src/sinks/sink.js';
import { CollectStore } from '../../src/store/collect-store.js';
import { logLines, runKollect, type CliResult } from '../support/cli.js';
import { startKubeSim } from '../support/kube-sim/index.js';
import { withGitServer } from '../support/git-server.js';
import { leaksOf } from '../support/leaks.js';
import { dropTestDatabases, freshDatabase } from '../support/postgres.js';
import { parsePromText, PromTextError, samplesOf, type MetricFamily, type MetricType } from '../support/prom-text.js';
import { buildStore, syntheticRows, tempDir } from '../support/store-fixture.js';

/**
 * `kollect export --metrics-file` and `--pushgateway`, run as a user runs them: the file parses
 * as Prometheus text exposition (a strict parser, test/support/prom-text.ts) and what it says
 * is what the run's JSON result says.
 */

const CLUSTER = 'metrics-e2e';
/** The seed's ExportShardWarning line (config default). */
const WARN_ROWS = 1800;

/** The seed's metric names and the type each must be exposed as. */
const SEED_METRICS: Record<string, MetricType> = {
  kollect_collect_items_total: 'counter',
  kollect_export_shard_warn_total: 'counter',
  kollect_export_duration_seconds: 'histogram',
  kollect_sink_errors_total: 'counter',
  kollect_export_operations_total: 'counter',
  kollect_export_last_success_timestamp_seconds: 'gauge',
};

/** Every label name kollect may use: small, fixed, and none of them names an object. */
const ALLOWED_LABELS = new Set(['cluster', 'sink', 'type', 'unit', 'operation', 'resource', 'reason', 'kind', 'le']);

const OPERATIONS = ['added', 'changed', 'unchanged', 'removed'] as const;

/** `count` rows of the namespaced synthetic types moved into `namespace`, with identities of their own. */
function* namespaceRows(namespace: string, count: number, revision = 1): Generator<Row> {
  let n = 0;
  for (const row of syntheticRows({ cluster: CLUSTER, count: count * 2, attributeBytes: 100, changedFraction: revision > 1 ? 0.2 : 0, revision })) {
    if (row.namespace === '' || n >= count) continue;
    n++;
    const moved: Row = { ...row, namespace, name: `${namespace}-${row.name}`, uid: `${namespace}-${row.uid}`, checksum: '' };
    moved.checksum = rowChecksum(moved);
    yield moved;
  }
}

/**
 * A store with two shards past the warning line (1,850 rows: warn; 2,100 rows: over target)
 * and eleven under it. `revision` 2 changes and removes some rows and adds a namespace.
 */
function* storeRows(revision: 1 | 2): Generator<Row> {
  yield* syntheticRows({
    cluster: CLUSTER,
    count: 4000,
    namespaces: 9,
    attributeBytes: 100,
    ...(revision === 2 ? { changedFraction: 0.1, removedFraction: 0.02, revision: 2 } : {}),
  });
  yield* namespaceRows('ns-big', 1850, revision);
  yield* namespaceRows('ns-over', 2100);
  if (revision === 2) yield* namespaceRows('ns-late', 120);
}

function parseResult(run: CliResult): RunResult {
  try {
    return JSON.parse(run.stdout) as RunResult;
  } catch {
    assert.fail(`--output json printed no JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
}

function resultOf(run: RunResult, sink: string): SinkPlan {
  const outcome = run.sinks.find((s) => s.sink === sink);
  assert.ok(outcome, `no outcome for sink ${sink}`);
  assert.ok(outcome.ok, `sink ${sink} failed: ${outcome.ok ? '' : outcome.error.message}`);
  return outcome.result;
}

/** The one sample of `name` with exactly these labels (besides `le`), or undefined. */
function valueOf(families: ReadonlyMap<string, MetricFamily>, name: string, labels: Record<string, string>): number | undefined {
  const found = samplesOf(families, name, labels).filter((s) => Object.keys(s.labels).filter((k) => k !== 'le').length === Object.keys(labels).length);
  assert.ok(found.length <= 1, `${name}${JSON.stringify(labels)} has ${found.length} series`);
  return found[0]?.value;
}

/** Every label is from the fixed set, and no value is an object's name, uid or namespace. */
function assertBoundedLabels(families: ReadonlyMap<string, MetricFamily>, objectValues: ReadonlySet<string>): void {
  for (const family of families.values()) {
    for (const sample of family.samples) {
      for (const [label, value] of Object.entries(sample.labels)) {
        assert.ok(ALLOWED_LABELS.has(label), `${sample.name} has label ${label}`);
        assert.ok(!objectValues.has(value), `${sample.name}{${label}="${value}"} names an object or namespace`);
      }
    }
  }
}

/** The value of every sample of `name`, by its `resource` label. */
function byResource(families: ReadonlyMap<string, MetricFamily>, name: string): Record<string, number> {
  return Object.fromEntries(samplesOf(families, name, { cluster: CLUSTER }).map((s) => [s.labels.resource, s.value]));
}

interface Setup {
  dir: string;
  storeA: string;
  storeB: string;
  /** Every object name, uid and namespace of both stores: none may ever be a label value. */
  objectValues: Set<string>;
  /** Shards of store B at or past the warning line, counted from its manifest. */
  warnedShardsB: number;
  databaseUrl: string;
}

async function writeConfig(dir: string, name: string): Promise<string> {
  const config = join(dir, name);
  await writeFile(
    config,
    [
      `cluster: ${CLUSTER}`,
      'sinks:',
      `  - { name: files, type: file, dir: ${JSON.stringify(join(dir, `${name}.out`))} }`,
      '  - { name: fleet-db, type: postgres, url: { env: DATABASE_URL }, ssl: { mode: disable } }',
    ].join('\n'),
  );
  return config;
}

interface TwoFileSinks {
  config: string;
  /** Makes the `archive` sink fail from now on: its folder becomes a plain file. */
  breakArchive(): Promise<void>;
}

/** A config with two file sinks, `files` and `archive`, in a folder of its own. */
async function twoFileSinks(dir: string, name: string): Promise<TwoFileSinks> {
  const root = join(dir, name);
  const archive = join(root, 'archive');
  await mkdir(root);
  const config = join(root, 'kollect.yaml');
  await writeFile(
    config,
    [
      `cluster: ${CLUSTER}`,
      'sinks:',
      `  - { name: files, type: file, dir: ${JSON.stringify(join(root, 'files'))} }`,
      `  - { name: archive, type: file, dir: ${JSON.stringify(archive)} }`,
    ].join('\n'),
  );
  return {
    config,
    breakArchive: async () => {
      await rm(archive, { recursive: true, force: true });
      await writeFile(archive, 'not a folder');
    },
  };
}

/** The `code` of every error line a run logged (JSON lines on stderr). */
function loggedErrorCodes(run: CliResult): Array<string | undefined> {
  return logLines(run)
    .filter((l) => l.level === 'error')
    .map((l) => l.code as string | undefined);
}

/** A TCP port on 127.0.0.1 that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/**
 * A TCP server on 127.0.0.1 that accepts a connection, answers nothing for `holdMs`, then drops
 * it: a database that hangs and then fails.
 */
async function hangingServer(holdMs: number): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server = createTcpServer((socket) => {
    sockets.add(socket);
    socket.on('error', () => undefined);
    setTimeout(() => socket.destroy(), holdMs);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as AddressInfo).port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

interface Gateway {
  url: string;
  received: Array<{ method: string; path: string; body: string }>;
  /** The metric families a group holds now, as pushed. */
  group(path: string): Map<string, MetricFamily>;
  /** What Prometheus scrapes: every group's samples, with the group's labels set on them. */
  scrape(): Map<string, MetricFamily>;
  close(): Promise<void>;
}

/** The grouping labels of a push path, `/metrics/job/J/NAME/VALUE/...`. */
function groupingOf(path: string): Record<string, string> {
  const parts = path
    .replace(/^\/metrics\//, '')
    .split('/')
    .map(decodeURIComponent);
  const labels: Record<string, string> = {};
  for (let i = 0; i + 1 < parts.length; i += 2) labels[parts[i]!] = parts[i + 1]!;
  return labels;
}

/** Every group's families merged, each sample labelled with its group's key (which wins over a pushed label). */
function scrapeOf(groups: ReadonlyMap<string, ReadonlyMap<string, MetricFamily>>): Map<string, MetricFamily> {
  const scraped = new Map<string, MetricFamily>();
  for (const [path, group] of groups) {
    const grouping = groupingOf(path);
    for (const family of group.values()) {
      const merged = scraped.get(family.name) ?? { ...family, samples: [] };
      merged.samples.push(...family.samples.map((sample) => ({ ...sample, labels: { ...sample.labels, ...grouping } })));
      scraped.set(family.name, merged);
    }
  }
  return scraped;
}

/** The first series that appears twice in a scrape, if any. */
function repeatedSeries(scraped: ReadonlyMap<string, MetricFamily>): string | undefined {
  const seen = new Set<string>();
  for (const family of scraped.values()) {
    for (const sample of family.samples) {
      const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort(([a], [b]) => a.localeCompare(b)))}`;
      if (seen.has(key)) return key;
      seen.add(key);
    }
  }
  return undefined;
}

/**
 * A Pushgateway stand-in that keeps groups as the real one does: PUT replaces the group, POST
 * replaces only the metric names pushed, a family without samples is not pushed at all (the
 * Pushgateway's text parser, expfmt, drops empty families), and a push that would put the same
 * series in two groups is refused with 400 (the real one's consistency check). With `basicAuth`,
 * as behind the reverse proxy that guards a real one, a push without those credentials gets 401.
 */
async function startGateway(options: { basicAuth?: { username: string; password: string } } = {}): Promise<Gateway> {
  const received: Gateway['received'] = [];
  const groups = new Map<string, Map<string, MetricFamily>>();
  const server = createServer((req, res) => {
    let body = '';
    req.setEncoding('utf8');
    req.on('data', (chunk: string) => (body += chunk));
    req.on('end', () => {
      const path = req.url ?? '';
      received.push({ method: req.method ?? '', path, body });
      const { basicAuth } = options;
      if (basicAuth && req.headers.authorization !== `Basic ${Buffer.from(`${basicAuth.username}:${basicAuth.password}`).toString('base64')}`) {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="pushgateway"' }).end('unauthorized');
        return;
      }
      const pushed = [...parsePromText(body).values()].filter((f) => f.samples.length > 0);
      const group = new Map<string, MetricFamily>(req.method === 'PUT' ? [] : groups.get(path));
      for (const family of pushed) group.set(family.name, family);
      const repeated = repeatedSeries(scrapeOf(new Map([...groups, [path, group]])));
      if (repeated !== undefined) {
        res.writeHead(400).end(`pushed metrics are inconsistent with existing metrics: ${repeated} is already in another group`);
        return;
      }
      groups.set(path, group);
      res.writeHead(200).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    group: (path) => groups.get(path) ?? new Map(),
    scrape: () => scrapeOf(groups),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe('kollect export: Prometheus metrics', () => {
  let setup: Setup;

  before(async () => {
    const dir = await tempDir('kollect-metrics-e2e-');
    const objectValues = new Set<string>();
    const remember = function* (rows: Iterable<Row>): Generator<Row> {
      for (const row of rows) {
        for (const value of [row.name, row.uid, row.namespace]) if (value) objectValues.add(value);
        yield row;
      }
    };
    const storeA = join(dir, 'store-a');
    const storeB = join(dir, 'store-b');
    await buildStore(storeA, CLUSTER, remember(storeRows(1)));
    const b = await buildStore(storeB, CLUSTER, remember(storeRows(2)));
    for (const shard of b.shards) objectValues.add(shard.key);
    objectValues.delete(CLUSTER_SHARD);
    const warnedShardsB = b.shards.filter((s) => s.rows >= WARN_ROWS).length;
    assert.equal(warnedShardsB, 2, 'fixture: two shards at or past the warning line');
    const databaseUrl = await freshDatabase();
    setup = { dir, storeA, storeB, objectValues, warnedShardsB, databaseUrl };
  });

  after(async () => {
    await dropTestDatabases();
    if (setup) await rm(setup.dir, { recursive: true, force: true });
  });

  it('writes a parseable metrics file whose counters equal the run summary, atomically', async () => {
    // GIVEN a database holding store A, and a stale metrics file from an earlier run
    const config = await writeConfig(setup.dir, 'ok.yaml');
    const env = { DATABASE_URL: setup.databaseUrl };
    assert.equal((await runKollect(['db', 'init', '-c', config], { env })).code, 0);
    const first = await runKollect(['export', '-c', config, '--from', setup.storeA, '--output', 'json'], { env });
    assert.equal(first.code, 0, first.stderr);
    const metricsDir = join(setup.dir, 'textfile');
    const file = join(metricsDir, 'kollect.prom');
    await mkdir(metricsDir);
    await writeFile(file, '# stale file of an earlier run\n');
    const staleInode = (await stat(file)).ino;

    // WHEN store B (changes, removals, a new namespace) is exported with --metrics-file
    const startedAt = Date.now() / 1000;
    const run = await runKollect(['export', '-c', config, '--from', setup.storeB, '--metrics-file', file, '--output', 'json'], { env });
    const endedAt = Date.now() / 1000;

    // THEN the run succeeded and the file is valid exposition text
    assert.equal(run.code, 0, run.stderr);
    const result = parseResult(run);
    const text = await readFile(file, 'utf8');
    const families = parsePromText(text);

    // every seed metric is declared with HELP and TYPE
    for (const [name, type] of Object.entries(SEED_METRICS)) {
      const family = families.get(name);
      assert.ok(family, `${name} missing from the metrics file`);
      assert.equal(family.type, type, `${name} TYPE`);
      assert.ok(family.help && family.help.trim().length > 0, `${name} has no HELP text`);
      assert.match(text, new RegExp(`^# HELP ${name} \\S`, 'm'));
      assert.match(text, new RegExp(`^# TYPE ${name} ${type}$`, 'm'));
    }

    // rows or files per operation per sink are the result's counts, and nothing else is counted
    const db = resultOf(result, 'fleet-db');
    const files = resultOf(result, 'files');
    assert.ok(
      db.totals.added > 0 && db.totals.changed > 0 && db.totals.removed > 0,
      `fixture: B inserts, updates and deletes rows: ${JSON.stringify(db.totals)}`,
    );
    assert.ok(files.totals.added > 0 && files.totals.changed > 0, `fixture: B adds and changes files: ${JSON.stringify(files.totals)}`);
    for (const plan of [db, files]) {
      for (const operation of OPERATIONS) {
        const labels = { cluster: CLUSTER, sink: plan.sink, type: plan.type, unit: plan.unit, operation };
        assert.equal(valueOf(families, 'kollect_export_operations_total', labels), plan.totals[operation], `${plan.sink} ${operation}`);
      }
    }
    assert.equal(samplesOf(families, 'kollect_export_operations_total').length, 2 * OPERATIONS.length);

    // shard warnings: the shards of the store at or past warnRows
    assert.equal(result.shardWarnings.length, setup.warnedShardsB);
    assert.equal(valueOf(families, 'kollect_export_shard_warn_total', { cluster: CLUSTER }), setup.warnedShardsB);

    // one duration observation per sink, no longer than the run; a last success inside the run
    for (const plan of [db, files]) {
      const labels = { cluster: CLUSTER, sink: plan.sink, type: plan.type };
      assert.equal(valueOf(families, 'kollect_export_duration_seconds_count', labels), 1, `${plan.sink} duration count`);
      const seconds = valueOf(families, 'kollect_export_duration_seconds_sum', labels) ?? -1;
      assert.ok(seconds > 0 && seconds <= endedAt - startedAt, `${plan.sink} took ${seconds} s in a run of ${endedAt - startedAt} s`);
      const last = valueOf(families, 'kollect_export_last_success_timestamp_seconds', labels) ?? 0;
      assert.ok(last >= startedAt - 1 && last <= endedAt + 1, `${plan.sink} last success ${last} outside the run [${startedAt}, ${endedAt}]`);
    }
    // no sink failed: each sink's error series is there, at zero
    assert.deepEqual(
      samplesOf(families, 'kollect_sink_errors_total').map((s) => [s.labels.sink, s.value]),
      result.sinks.map((o) => [o.sink, 0]),
    );

    assertBoundedLabels(families, setup.objectValues);

    // written atomically: a new file renamed over the old one, no temporary file left behind
    assert.deepEqual(await readdir(metricsDir), ['kollect.prom']);
    assert.notEqual((await stat(file)).ino, staleInode, 'the old file was rewritten in place, not replaced');
  });

  it('counts collected rows once: a collection reports them, a replay of its store reports the store', async () => {
    // GIVEN a cluster, and a config that collects three types into a store and a file sink
    const sim = await startKubeSim({ objects: 1500, seed: 7 });
    try {
      const kubeconfig = join(setup.dir, 'sim.kubeconfig');
      await sim.writeKubeconfig(kubeconfig);
      const store = join(setup.dir, 'collected-store');
      const config = join(setup.dir, 'collect.yaml');
      await writeFile(
        config,
        [
          `cluster: ${CLUSTER}`,
          `kube: { kubeconfig: ${JSON.stringify(kubeconfig)} }`,
          'resources:',
          '  - { version: v1, resource: namespaces }',
          '  - { version: v1, resource: pods }',
          '  - { group: apps, version: v1, resource: deployments }',
          `store: { dir: ${JSON.stringify(store)} }`,
          'sinks:',
          `  - { name: files, type: file, dir: ${JSON.stringify(join(setup.dir, 'collected.out'))} }`,
        ].join('\n'),
      );
      const collectFile = join(setup.dir, 'collect.prom');
      const replayFile = join(setup.dir, 'replay.prom');

      // WHEN the cluster is collected, and then its saved store exported again (--from)
      const collected = await runKollect(['collect', '-c', config, '--metrics-file', collectFile, '--output', 'json']);
      assert.equal(collected.code, 0, collected.stderr);
      const replayed = await runKollect(['export', '-c', config, '--from', store, '--metrics-file', replayFile, '--output', 'json']);
      assert.equal(replayed.code, 0, replayed.stderr);

      // THEN the collection counts its rows per type, and both runs report the store they exported
      const expected = sim.expectedCounts().byType;
      const perType = { namespaces: expected.namespaces, pods: expected.pods, 'deployments.apps': expected['deployments.apps'] };
      const collectMetrics = parsePromText(await readFile(collectFile, 'utf8'));
      const replayMetrics = parsePromText(await readFile(replayFile, 'utf8'));
      assert.deepEqual(byResource(collectMetrics, 'kollect_collect_items_total'), perType);
      assert.deepEqual(byResource(collectMetrics, 'kollect_store_rows'), perType);
      assert.deepEqual(byResource(replayMetrics, 'kollect_store_rows'), perType);
      assert.equal(replayMetrics.get('kollect_store_rows')?.type, 'gauge');

      // the replay collected nothing: summed over both runs, every row is counted once
      assert.equal(replayMetrics.get('kollect_collect_items_total')?.type, 'counter', 'the family is still declared');
      assert.deepEqual(samplesOf(replayMetrics, 'kollect_collect_items_total'), []);

      // the resource label is a type, never an object
      const objectValues = new Set<string>();
      for await (const row of (await CollectStore.open(store)).rows())
        for (const value of [row.name, row.uid, row.namespace]) if (value) objectValues.add(value);
      assertBoundedLabels(collectMetrics, objectValues);
      assertBoundedLabels(replayMetrics, objectValues);
    } finally {
      await sim.close();
    }
  });

  it('counts a failing sink as an error, without a last success for it, and exits 1', async () => {
    // GIVEN the postgres sink pointed at a port nothing listens on
    const config = await writeConfig(setup.dir, 'broken.yaml');
    const env = { DATABASE_URL: `postgres://kollect:secret@127.0.0.1:${await closedPort()}/kollect` };
    const file = join(setup.dir, 'broken.prom');

    // WHEN exporting
    const run = await runKollect(['export', '-c', config, '--from', setup.storeA, '--metrics-file', file, '--output', 'json'], { env });

    // THEN the run fails, and the metrics say which sink failed and which succeeded
    assert.equal(run.code, 1, run.stderr);
    const result = parseResult(run);
    assert.equal(result.ok, false);
    const failed = result.sinks.find((s) => s.sink === 'fleet-db');
    assert.equal(failed?.ok, false);
    const families = parsePromText(await readFile(file, 'utf8'));
    const labels = (sink: string, type: string): Record<string, string> => ({ cluster: CLUSTER, sink, type });
    assert.equal(valueOf(families, 'kollect_sink_errors_total', labels('fleet-db', 'postgres')), 1);
    assert.equal(valueOf(families, 'kollect_sink_errors_total', labels('files', 'file')), 0);
    assert.equal(valueOf(families, 'kollect_export_last_success_timestamp_seconds', labels('fleet-db', 'postgres')), undefined);
    assert.ok((valueOf(families, 'kollect_export_last_success_timestamp_seconds', labels('files', 'file')) ?? 0) > 0, 'the file sink succeeded');
    assert.deepEqual(samplesOf(families, 'kollect_export_operations_total', { sink: 'fleet-db' }), []);
    assert.doesNotMatch(await readFile(file, 'utf8'), /secret/, 'the password is not in the metrics');
  });

  it("keeps a failed sink's last success from the file it replaces", async () => {
    // GIVEN a run in which both sinks succeeded, and then a sink that fails
    const { config, breakArchive } = await twoFileSinks(setup.dir, 'carry-over');
    const file = join(setup.dir, 'carry-over.prom');
    const lastSuccess = (families: ReadonlyMap<string, MetricFamily>, sink: string): number | undefined =>
      valueOf(families, 'kollect_export_last_success_timestamp_seconds', { cluster: CLUSTER, sink, type: 'file' });
    const first = await runKollect(['export', '-c', config, '--from', setup.storeA, '--metrics-file', file], {});
    assert.equal(first.code, 0, first.stderr);
    const archivedAt = lastSuccess(parsePromText(await readFile(file, 'utf8')), 'archive');
    assert.ok(archivedAt !== undefined && archivedAt > 0);
    await breakArchive();

    // WHEN the next run writes the same metrics file
    const startedAt = Date.now() / 1000;
    const second = await runKollect(['export', '-c', config, '--from', setup.storeA, '--metrics-file', file, '--output', 'json'], {});

    // THEN the failed sink is counted as failed and timed, and its last success is the earlier
    // run's, to the digit; the sink that succeeded has this run's
    assert.equal(second.code, 1, second.stderr);
    assert.equal(parseResult(second).sinks.find((s) => s.sink === 'archive')?.ok, false);
    assert.deepEqual(loggedErrorCodes(second), ['SINK_FAILED'], 'reading the earlier file is no error');
    const families = parsePromText(await readFile(file, 'utf8'));
    assert.equal(valueOf(families, 'kollect_sink_errors_total', { cluster: CLUSTER, sink: 'archive', type: 'file' }), 1);
    assert.equal(valueOf(families, 'kollect_export_duration_seconds_count', { cluster: CLUSTER, sink: 'archive', type: 'file' }), 1);
    assert.equal(lastSuccess(families, 'archive'), archivedAt);
    assert.ok((lastSuccess(families, 'files') ?? 0) >= startedAt - 1, 'the sink that succeeded has this run as its last success');
  });

  it('reads the file it replaces leniently: a damaged line, another cluster and a removed sink are left behind', async () => {
    // GIVEN a metrics file cut short, with last successes of this cluster's archive sink, of a
    // sink no longer configured and of another cluster, and an archive sink that now fails
    const { config, breakArchive } = await twoFileSinks(setup.dir, 'lenient');
    await breakArchive();
    const file = join(setup.dir, 'lenient.prom');
    const metric = 'kollect_export_last_success_timestamp_seconds';
    await writeFile(
      file,
      [
        `# TYPE ${metric} gauge`,
        `${metric}{cluster="${CLUSTER}",sink="archive",type="file"} 1700000000.25`,
        `${metric}{cluster="${CLUSTER}",sink="retired",type="file"} 1700000001`,
        `${metric}{cluster="another-cluster",sink="files",type="file"} 1700000002`,
        `${metric}{cluster="${CLUSTER}",sink="files",type="file"} not-a-time`,
        '\u0000\u0001 not exposition text at all',
        `${metric}{cluster="${CLUSTER}",sink="fi`,
      ].join('\n'),
    );

    // WHEN a run writes over it, with debug logs
    const run = await runKollect(['export', '-c', config, '--from', setup.storeA, '--metrics-file', file, '--verbose'], {});

    // THEN only the sink's failure is an error; the new file is valid, keeps the archive sink's
    // last success and nothing else of the old file; the debug log says what was read
    assert.equal(run.code, 1, run.stderr);
    assert.deepEqual(loggedErrorCodes(run), ['SINK_FAILED'], run.stderr);
    const families = parsePromText(await readFile(file, 'utf8'));
    assert.deepEqual(
      samplesOf(families, metric)
        .map((s) => [s.labels.cluster, s.labels.sink, s.value === 1700000000.25 ? 'carried' : 'new'])
        .sort(),
      [
        [CLUSTER, 'archive', 'carried'],
        [CLUSTER, 'files', 'new'],
      ],
    );
    const debug = (logLines(run) as Array<{ msg?: string; sinks?: string[]; unreadableLines?: number }>).find((l) => l.msg?.includes('earlier metrics file'));
    assert.deepEqual([debug?.sinks, debug?.unreadableLines], [['archive'], 2], run.stderr);
  });

  it('times a sink that hangs and then fails', async () => {
    // GIVEN the postgres sink pointed at a server that accepts, says nothing for a second, then hangs up
    const holdSeconds = 1;
    const database = await hangingServer(holdSeconds * 1000);
    try {
      const config = await writeConfig(setup.dir, 'hanging.yaml');
      const file = join(setup.dir, 'hanging.prom');

      // WHEN exporting
      const startedAt = Date.now() / 1000;
      const run = await runKollect(['export', '-c', config, '--from', setup.storeA, '--metrics-file', file, '--output', 'json'], {
        env: { DATABASE_URL: `postgres://kollect@127.0.0.1:${database.port}/kollect` },
      });
      const endedAt = Date.now() / 1000;

      // THEN the failed attempt is one observation of the export duration, as long as the hang
      assert.equal(run.code, 1, run.stderr);
      assert.equal(parseResult(run).sinks.find((s) => s.sink === 'fleet-db')?.ok, false);
      const families = parsePromText(await readFile(file, 'utf8'));
      const labels = { cluster: CLUSTER, sink: 'fleet-db', type: 'postgres' };
      assert.equal(valueOf(families, 'kollect_sink_errors_total', labels), 1);
      assert.equal(valueOf(families, 'kollect_export_duration_seconds_count', labels), 1);
      const seconds = valueOf(families, 'kollect_export_duration_seconds_sum', labels) ?? -1;
      assert.ok(
        seconds >= holdSeconds && seconds <= endedAt - startedAt,
        `the failed sink took ${seconds} s; the server held it ${holdSeconds} s in a run of ${endedAt - startedAt} s`,
      );
      assert.deepEqual(
        samplesOf(families, 'kollect_export_duration_seconds_bucket', { ...labels, le: '0.5' }).map((s) => s.value),
        [0],
        'the hang is not counted in a bucket below it',
      );
    } finally {
      await database.close();
    }
  });

  it('pushes the same metrics to a Pushgateway, grouped by job and cluster', async () => {
    // GIVEN a Pushgateway stand-in
    const gateway = await startGateway();
    try {
      const config = await writeConfig(setup.dir, 'push.yaml');

      // WHEN exporting with --pushgateway
      const run = await runKollect(['export', '-c', config, '--from', setup.storeA, '--sink', 'files', '--pushgateway', gateway.url, '--output', 'json'], {});

      // THEN the run's metrics replaced the job's and cluster's group (PUT), and the sink's last
      // success went to a group of its own
      assert.equal(run.code, 0, run.stderr);
      const files = resultOf(parseResult(run), 'files');
      const group = `/metrics/job/kollect/cluster/${CLUSTER}`;
      assert.deepEqual(
        gateway.received.map((r) => `${r.method} ${r.path}`),
        [`PUT ${group}`, `PUT ${group}/sink/files`],
      );
      assert.deepEqual([...gateway.group(`${group}/sink/files`).keys()], ['kollect_export_last_success_timestamp_seconds']);

      // every seed metric is pushed, and what Prometheus scrapes has the counts of the result
      const pushed = new Set(gateway.received.flatMap((r) => [...parsePromText(r.body).keys()]));
      for (const name of Object.keys(SEED_METRICS)) assert.ok(pushed.has(name), `${name} not pushed`);
      const scraped = gateway.scrape();
      for (const operation of OPERATIONS) {
        const labels = { job: 'kollect', cluster: CLUSTER, sink: 'files', type: 'file', unit: 'files', operation };
        assert.equal(valueOf(scraped, 'kollect_export_operations_total', labels), files.totals[operation], operation);
      }
      assert.ok(
        (valueOf(scraped, 'kollect_export_last_success_timestamp_seconds', { job: 'kollect', cluster: CLUSTER, sink: 'files', type: 'file' }) ?? 0) > 0,
      );
    } finally {
      await gateway.close();
    }
  });

  it("keeps a failed sink's last success in the Pushgateway, also over a group an earlier kollect pushed", async () => {
    // GIVEN the cluster's group as an earlier kollect left it (last successes in it, pushed with POST)
    const gateway = await startGateway();
    try {
      const group = `/metrics/job/kollect/cluster/${CLUSTER}`;
      const metric = 'kollect_export_last_success_timestamp_seconds';
      const seeded = await fetch(`${gateway.url}${group}`, {
        method: 'POST',
        body: `# TYPE ${metric} gauge\n${metric}{cluster="${CLUSTER}",sink="archive",type="file"} 1700000000\n`,
      });
      assert.equal(seeded.status, 200);
      const { config, breakArchive } = await twoFileSinks(setup.dir, 'push-carry-over');
      const lastSuccess = (sink: string): number | undefined => valueOf(gateway.scrape(), metric, { job: 'kollect', cluster: CLUSTER, sink, type: 'file' });

      // WHEN a run in which both sinks succeed pushes, and then one in which the archive fails
      const first = await runKollect(['export', '-c', config, '--from', setup.storeA, '--pushgateway', gateway.url], {});
      assert.equal(first.code, 0, first.stderr);
      const archivedAt = lastSuccess('archive');
      assert.ok(archivedAt !== undefined && archivedAt > 1700000000, `the earlier kollect's series is replaced, not repeated: ${archivedAt}`);
      await breakArchive();
      const startedAt = Date.now() / 1000;
      // (as a CronJob does: the URL from the environment, never the command line)
      const second = await runKollect(['export', '-c', config, '--from', setup.storeA], { env: { KOLLECT_PUSHGATEWAY: gateway.url } });

      // THEN every push was accepted, the failure is in the cluster's group, and what Prometheus
      // scrapes still has the archive's last success of the first run (one series per sink)
      assert.equal(second.code, 1, second.stderr);
      assert.deepEqual(loggedErrorCodes(second), ['SINK_FAILED'], second.stderr);
      assert.equal(valueOf(gateway.group(group), 'kollect_sink_errors_total', { cluster: CLUSTER, sink: 'archive', type: 'file' }), 1);
      assert.equal(lastSuccess('archive'), archivedAt);
      assert.ok((lastSuccess('files') ?? 0) >= startedAt - 1);
      assert.equal(samplesOf(gateway.scrape(), metric).length, 2);
    } finally {
      await gateway.close();
    }
  });

  it('clears a sink error and the shard warnings in the Pushgateway group once a later run succeeds', async () => {
    // GIVEN a run whose postgres sink failed, on a store with shards past the warning line
    const gateway = await startGateway();
    try {
      const config = await writeConfig(setup.dir, 'recover.yaml');
      const closed = `postgres://kollect:secret@127.0.0.1:${await closedPort()}/kollect`;
      const failed = await runKollect(['export', '-c', config, '--from', setup.storeA, '--pushgateway', gateway.url, '--output', 'json'], {
        env: { DATABASE_URL: closed },
      });
      assert.equal(failed.code, 1, failed.stderr);
      const group = `/metrics/job/kollect/cluster/${CLUSTER}`;
      const errors = { cluster: CLUSTER, sink: 'fleet-db', type: 'postgres' };
      assert.equal(valueOf(gateway.group(group), 'kollect_sink_errors_total', errors), 1);
      assert.equal(valueOf(gateway.group(group), 'kollect_export_shard_warn_total', { cluster: CLUSTER }), 2);

      // WHEN the next run succeeds, on a store without large shards
      const small = join(setup.dir, 'store-small');
      await buildStore(small, CLUSTER, syntheticRows({ cluster: CLUSTER, count: 300, namespaces: 5 }));
      const databaseUrl = await freshDatabase();
      assert.equal((await runKollect(['db', 'init', '-c', config], { env: { DATABASE_URL: databaseUrl } })).code, 0);
      const ok = await runKollect(['export', '-c', config, '--from', small, '--pushgateway', gateway.url, '--output', 'json'], {
        env: { DATABASE_URL: databaseUrl },
      });

      // THEN what the group holds (what Prometheus scrapes, and alerts on) is no longer an error
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(valueOf(gateway.group(group), 'kollect_sink_errors_total', errors), 0, 'the old sink error still stands in the group');
      assert.equal(
        valueOf(gateway.group(group), 'kollect_export_shard_warn_total', { cluster: CLUSTER }),
        0,
        'the old shard warnings still stand in the group',
      );
      assert.ok((valueOf(gateway.scrape(), 'kollect_export_last_success_timestamp_seconds', { job: 'kollect', ...errors }) ?? 0) > 0);
    } finally {
      await gateway.close();
    }
  });

  it('shows credentials of Git and Pushgateway URLs (userinfo, query) as *** in every output, and writes them to no file', async () => {
    // GIVEN a Git server that takes a token in the query, and a Pushgateway behind basic auth
    // whose URL also carries a token in its query
    const GIT_TOKEN = 'git-query-secret-e2e-41d9';
    const PASSWORD = 'gateway-password-e2e-8c2f';
    const QUERY_TOKEN = 'gateway-query-secret-e2e-b7e0';
    const gateway = await startGateway({ basicAuth: { username: 'kollect', password: PASSWORD } });
    try {
      await withGitServer({ queryToken: { name: 'access_token', value: GIT_TOKEN } }, async (server) => {
        const dir = join(setup.dir, 'leaks');
        const mirrorDir = join(dir, 'mirror');
        const metricsFile = join(dir, 'kollect.prom');
        await mkdir(dir);
        const config = join(dir, 'kollect.yaml');
        const gitUrl = `${server.url}?access_token=${GIT_TOKEN}`;
        await writeFile(
          config,
          [`cluster: ${CLUSTER}`, 'sinks:', `  - { name: audit, type: git, url: ${JSON.stringify(gitUrl)}, mirrorDir: ${JSON.stringify(mirrorDir)} }`].join(
            '\n',
          ),
        );
        const pushgateway = (password: string) => gateway.url.replace('http://', `http://kollect:${password}@`) + `/?token=${QUERY_TOKEN}`;

        // WHEN exporting with both, then again with a wrong Git token, --force, and a wrong Pushgateway password
        const ok = await runKollect([
          'export',
          '-c',
          config,
          '--from',
          setup.storeA,
          '--metrics-file',
          metricsFile,
          '--pushgateway',
          pushgateway(PASSWORD),
          '--output',
          'json',
          '-v',
        ]);
        await writeFile(config, (await readFile(config, 'utf8')).replace(GIT_TOKEN, `wrong-${GIT_TOKEN}`));
        const failed = await runKollect([
          'export',
          '-c',
          config,
          '--from',
          setup.storeB,
          '--force',
          '--metrics-file',
          metricsFile,
          '--pushgateway',
          pushgateway(`wrong-${PASSWORD}`),
          '-v',
        ]);

        // THEN the first run pushed both ways; the second failed naming each URL with *** for its credentials
        assert.equal(ok.code, 0, ok.stderr);
        assert.ok(resultOf(parseResult(ok), 'audit').totals.added > 0);
        assert.equal(failed.code, 1, failed.stderr);
        const errors = logLines(failed).filter((l) => l.level === 'error');
        assert.deepEqual(errors.map((l) => l.code).sort(), ['GIT_AUTH_FAILED', 'METRICS_PUBLISH_FAILED']);
        assert.ok(failed.stderr.includes(`${server.url}?access_token=***`), failed.stderr);
        assert.ok(failed.stderr.includes(`http://kollect:***@${gateway.url.slice('http://'.length)}/?token=***`), failed.stderr);
        // and no secret is in any output, the mirror, the metrics file, or what the Pushgateway was sent
        const secrets = [GIT_TOKEN, PASSWORD, QUERY_TOKEN];
        const pushed = gateway.received.map((r) => `${r.path}\n${r.body}`).join('\n');
        assert.deepEqual(
          await leaksOf(secrets, { 'ok stdout': ok.stdout, 'ok stderr': ok.stderr, 'failed stdout': failed.stdout, 'failed stderr': failed.stderr, pushed }, [
            mirrorDir,
            metricsFile,
          ]),
          [],
        );
      });
    } finally {
      await gateway.close();
    }
  });

  it('still prints the result and writes the metrics file when the Pushgateway is down, and exits 1 naming it', async () => {
    // GIVEN a Pushgateway URL where nothing listens
    const config = await writeConfig(setup.dir, 'nogateway.yaml');
    const file = join(setup.dir, 'nogateway.prom');
    const gateway = `http://127.0.0.1:${await closedPort()}`;

    // WHEN a successful export pushes its metrics there
    const run = await runKollect(
      ['export', '-c', config, '--from', setup.storeA, '--sink', 'files', '--metrics-file', file, '--pushgateway', gateway, '--output', 'json'],
      {},
    );

    // THEN the export's own result is still printed, the file still written, and the failure is
    // reported as what it is (not an internal error), with exit code 1
    assert.equal(run.code, 1, run.stderr);
    const result = parseResult(run);
    assert.equal(result.ok, true);
    assert.ok(resultOf(result, 'files').totals.added > 0);
    assert.ok(parsePromText(await readFile(file, 'utf8')).has('kollect_export_operations_total'));
    assert.deepEqual(loggedErrorCodes(run), ['METRICS_PUBLISH_FAILED'], run.stderr);
  });
});

describe('the exposition parser the metrics tests rely on', () => {
  const valid = '# HELP a_total A.\n# TYPE a_total counter\na_total{sink="x"} 1\n';
  it('accepts what prom-client writes', () => {
    assert.equal(parsePromText(valid).get('a_total')?.samples[0]?.value, 1);
  });
  const invalid: Array<[string, string]> = [
    ['a value that is not a number', '# TYPE a counter\na{x="1"} abc\n'],
    ['an unterminated label value', 'a{x="1} 1\n'],
    ['an unknown escape', 'a{x="\\t"} 1\n'],
    ['a repeated label', 'a{x="1",x="2"} 1\n'],
    ['the same series twice', 'a{x="1"} 1\na{x="1"} 2\n'],
    ['a second TYPE', '# TYPE a counter\n# TYPE a gauge\na 1\n'],
    ['TYPE after samples', 'a 1\n# TYPE a counter\n'],
    ['interleaved families', 'a 1\nb 1\na{x="1"} 1\n'],
    ['a negative counter', '# TYPE a counter\na -1\n'],
    ['a histogram without +Inf', '# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'],
    ['a histogram whose buckets shrink', '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n'],
    ['a histogram count that is not the +Inf bucket', '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n'],
    ['no final newline', 'a 1'],
  ];
  for (const [what, text] of invalid) {
    it(`rejects ${what}`, () => {
      assert.throws(() => parsePromText(text), PromTextError);
    });
  }
});
