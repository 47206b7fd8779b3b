import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { after, before, beforeEach, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { KollectError } from '../../../src/errors.js';
import { parseShardDocument } from '../../../src/sinks/document/shard-document.js';
import type { S3SinkConfigInput } from '../../../src/sinks/s3/config.js';
import { createS3Sink } from '../../../src/sinks/s3/s3-sink.js';
import type { S3Manifest } from '../../../src/sinks/s3/s3-manifest.js';
import type { Sink, SinkContext } from '../../../src/sinks/sink.js';
import { startS3Server, type S3Server } from '../../support/s3-server.js';
import { tempDir } from '../../support/store-fixture.js';
import { captureLogger, context, store } from '../git/git-fixture.js';
import { BUCKET, s3SinkSettings, serverCredentialsEnv } from './s3-fixture.js';

/**
 * The s3 sink against the S3 test server (s3rver behind the proxy that checks preconditions and
 * injects faults): what lands in the bucket, which requests an export makes, and how it fails.
 */

const MANIFEST = (cluster: string): string => `manifests/${cluster}/manifest.json`;
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

describe('s3 sink', () => {
  let server: S3Server;
  before(async () => {
    server = await startS3Server();
  });
  after(async () => server.close());
  beforeEach(async () => {
    await server.createBucket(BUCKET);
    server.clearFaults();
    server.clearRequests();
  });

  const sinks: Sink[] = [];
  after(async () => {
    for (const sink of sinks) await sink.close();
  });
  /** An s3 sink writing under `prefix`, its local state in a folder of its own (or `stateDir`). */
  async function s3Sink(prefix: string, more: Partial<S3SinkConfigInput> = {}, stateDir?: string): Promise<{ sink: Sink; stateDir: string }> {
    const dir = stateDir ?? (await tempDir('kollect-s3-state-'));
    const sink = createS3Sink(s3SinkSettings(server, { prefix, ...more }), { env: { ...serverCredentialsEnv(server), KOLLECT_GIT_MIRROR_DIR: dir } });
    sinks.push(sink);
    return { sink, stateDir: dir };
  }
  async function manifestOf(prefix: string, cluster: string): Promise<S3Manifest> {
    const stored = await server.readObject(BUCKET, `${prefix}/${MANIFEST(cluster)}`);
    assert.ok(stored, `no manifest for ${cluster}`);
    return JSON.parse(stored.body.toString('utf8')) as S3Manifest;
  }
  /** Every shard the manifest names is in the bucket with the SHA-256 it names, in the object's metadata too. */
  async function assertManifestHolds(prefix: string, cluster: string): Promise<S3Manifest> {
    const manifest = await manifestOf(prefix, cluster);
    for (const entry of Object.values(manifest.shards)) {
      const stored = await server.readObject(BUCKET, `${prefix}/${entry.path}`);
      assert.ok(stored, `${entry.path} is named by the manifest but missing`);
      assert.equal(sha256(stored.body), entry.sha256, entry.path);
      assert.equal(stored.metadata['x-amz-meta-sha256'], entry.sha256, entry.path);
    }
    return manifest;
  }
  const puts = (): string[] => server.requests.filter((r) => r.method === 'PUT').map((r) => r.key ?? '');

  it('GIVEN an empty bucket WHEN exporting THEN one object per shard, then the manifest last, naming each with its SHA-256, rows and bytes', async () => {
    const { sink } = await s3Sink('first');
    const exported = await store({ cluster: 'c1' });
    const result = await sink.apply(exported, context());
    assert.equal(result.totals.added, exported.shards.length);
    assert.equal(puts().at(-1), `first/${MANIFEST('c1')}`);
    assert.equal(server.requests.find((r) => r.key === `first/${MANIFEST('c1')}` && r.method === 'PUT')?.headers['if-none-match'], '*');
    const manifest = await assertManifestHolds('first', 'c1');
    assert.deepEqual(Object.keys(manifest.shards).sort(), exported.shards.map((s) => s.key).sort());
    assert.equal(manifest.shards['ns-001']?.rows, exported.shard('ns-001')?.rows);
  });

  it('GIVEN an export done WHEN nothing changed THEN zero requests; WHEN the local state is lost THEN one GET of the manifest and nothing written', async () => {
    const { sink, stateDir } = await s3Sink('same');
    await sink.apply(await store({ cluster: 'c1' }), context());
    server.clearRequests();
    const again = await sink.apply(await store({ cluster: 'c1' }), context({ force: true }));
    assert.equal(again.skipped?.reason, 'unchanged');
    assert.equal(server.count(), 0);

    await rm(stateDir, { recursive: true, force: true });
    const rebuilt = await sink.apply(await store({ cluster: 'c1' }), context({ force: true }));
    assert.equal(rebuilt.skipped?.reason, 'unchanged');
    assert.deepEqual(
      server.requests.map((r) => `${r.method} ${r.key}`),
      [`GET same/${MANIFEST('c1')}`],
    );
    server.clearRequests();
    await sink.apply(await store({ cluster: 'c1' }), context({ force: true }));
    assert.equal(server.count(), 0, 'the state was rebuilt');
  });

  it('GIVEN one namespace changed WHEN exporting THEN exactly one shard PUT and one manifest PUT (If-Match the ETag seen)', async () => {
    const { sink } = await s3Sink('changed');
    await sink.apply(await store({ cluster: 'c1' }), context());
    server.clearRequests();
    const result = await sink.apply(await store({ cluster: 'c1', changeNamespaces: ['ns-003'] }), context({ force: true }));
    assert.deepEqual(result.totals, { added: 0, changed: 1, unchanged: result.totals.unchanged, removed: 0 });
    assert.deepEqual(puts(), ['changed/clusters/c1/namespaces/ns-003.json', `changed/${MANIFEST('c1')}`]);
    assert.ok(server.requests.at(-1)?.headers['if-match']);
    await assertManifestHolds('changed', 'c1');
  });

  it('GIVEN a namespace that vanished WHEN exporting THEN its object is deleted after the manifest no longer names it', async () => {
    const { sink } = await s3Sink('vanish');
    await sink.apply(await store({ cluster: 'c1' }), context());
    server.clearRequests();
    const result = await sink.apply(await store({ cluster: 'c1', dropNamespaces: ['ns-002'] }), context({ force: true }));
    assert.equal(result.totals.removed, 1);
    const order = server.requests.map((r) => `${r.method} ${r.key ?? r.query}`);
    assert.ok(
      order.indexOf(`PUT vanish/${MANIFEST('c1')}`) < order.findIndex((line) => line.startsWith('POST') || line.startsWith('DELETE')),
      order.join('\n'),
    );
    assert.equal(await server.readObject(BUCKET, 'vanish/clusters/c1/namespaces/ns-002.json'), undefined);
    assert.equal((await assertManifestHolds('vanish', 'c1')).shards['ns-002'], undefined);
  });

  it('GIVEN a type listed incompletely WHEN exporting THEN its rows stay in the objects and nothing is deleted', async () => {
    const { sink } = await s3Sink('partial');
    await sink.apply(await store({ cluster: 'c1' }), context());
    const configmaps = async (): Promise<number> => {
      const stored = await server.readObject(BUCKET, 'partial/clusters/c1/namespaces/ns-001.json');
      return parseShardDocument(stored?.body.toString('utf8') ?? '')?.rows.filter((r) => r.resource === 'configmaps').length ?? 0;
    };
    const before = await configmaps();
    assert.ok(before > 0);
    const partial = await store({ cluster: 'c1', dropResources: ['configmaps'], dropNamespaces: ['ns-004'] }, { incomplete: { configmaps: 'forbidden' } });
    const result = await sink.apply(partial, context({ force: true }));
    assert.equal(result.totals.removed, 0);
    assert.equal(await configmaps(), before);
    const manifest = await assertManifestHolds('partial', 'c1');
    assert.deepEqual(manifest.incomplete, ['configmaps']);
    assert.equal(server.count({ method: 'POST' }) + server.count({ method: 'DELETE' }), 0);
  });

  it('GIVEN two clusters exporting into one bucket WHEN one loses a namespace THEN the other cluster keeps all of its objects', async () => {
    const { sink: one } = await s3Sink('fleet');
    const { sink: two } = await s3Sink('fleet');
    await one.apply(await store({ cluster: 'c1' }), context());
    await two.apply(await store({ cluster: 'c2' }), context());
    await one.apply(await store({ cluster: 'c1', dropNamespaces: ['ns-001'] }), context({ force: true }));
    assert.ok(await server.readObject(BUCKET, 'fleet/clusters/c2/namespaces/ns-001.json'));
    await assertManifestHolds('fleet', 'c1');
    assert.equal(Object.keys((await assertManifestHolds('fleet', 'c2')).shards).length, (await store({ cluster: 'c2' })).shards.length);
  });

  it('GIVEN two runs of one cluster racing WHEN the other commits first THEN this one gets 412, re-reads, re-plans and commits cleanly', async () => {
    const { sink: slow } = await s3Sink('race');
    const { sink: fast } = await s3Sink('race');
    const { log, lines } = captureLogger();
    const slowKey = 'race/clusters/c1/namespaces/ns-001.json';
    server.inject({ method: 'PUT', key: slowKey, kind: 'slow', delayMs: 1500 });
    const slowRun = slow.apply(await store({ cluster: 'c1', changeNamespaces: ['ns-001'], revision: 2 }), context({ log }));
    while (server.count({ method: 'PUT', key: slowKey }) === 0) await nextTurn();
    await fast.apply(await store({ cluster: 'c1' }), context());

    const result = await slowRun;

    assert.ok(lines.some((line) => line.message.includes('another run wrote the manifest first')));
    assert.ok(server.requests.some((r) => r.key === `race/${MANIFEST('c1')}` && r.status === 412));
    assert.equal(result.skipped, undefined);
    const manifest = await assertManifestHolds('race', 'c1');
    const document = await server.readObject(BUCKET, slowKey);
    assert.equal(manifest.shards['ns-001']?.sha256, sha256(document!.body));
    assert.ok(parseShardDocument(document!.body.toString('utf8'))?.rows.every((row) => row.labels?.rev === '2'));
  });

  it('GIVEN a 503 on a shard PUT mid-export WHEN exporting THEN the export fails and the manifest still names only what is there', async () => {
    const { sink } = await s3Sink('flaky');
    await sink.apply(await store({ cluster: 'c1' }), context());
    const before = await manifestOf('flaky', 'c1');
    server.inject({ method: 'PUT', key: 'flaky/clusters/c1/namespaces/ns-004.json', kind: 'error', status: 503, code: 'SlowDown' });
    await assert.rejects(
      sink.apply(await store({ cluster: 'c1', changeNamespaces: ['ns-002', 'ns-004'] }), context({ force: true })),
      (error: KollectError) => {
        assert.equal(error.code, 'S3_UNAVAILABLE');
        return true;
      },
    );
    assert.deepEqual(await manifestOf('flaky', 'c1'), before);
    server.clearFaults();
    await sink.apply(await store({ cluster: 'c1', changeNamespaces: ['ns-002', 'ns-004'] }), context({ force: true }));
    await assertManifestHolds('flaky', 'c1');
  });

  it('GIVEN an abort before the manifest WHEN exporting THEN InterruptedError and the manifest is as it was', async () => {
    const { sink } = await s3Sink('abort');
    await sink.apply(await store({ cluster: 'c1' }), context());
    const before = await manifestOf('abort', 'c1');
    const controller = new AbortController();
    const signal: SinkContext['signal'] = controller.signal;
    server.inject({ method: 'PUT', key: 'abort/clusters/c1/namespaces/ns-003.json', kind: 'slow', delayMs: 200 });
    const run = sink.apply(await store({ cluster: 'c1', changeNamespaces: ['ns-001', 'ns-003', 'ns-005'] }), context({ force: true, signal }));
    while (server.count({ method: 'PUT', key: 'abort/clusters/c1/namespaces/ns-003.json' }) === 0) await nextTurn();
    controller.abort();
    await assert.rejects(run, (error: KollectError) => error.code === 'INTERRUPTED');
    assert.deepEqual(await manifestOf('abort', 'c1'), before);
  });

  it('GIVEN a wrong secret key WHEN exporting THEN S3_AUTH_FAILED, and the secret is in neither the error nor the log', async () => {
    const secret = 'not-the-secret-0123456789';
    const sink = createS3Sink(s3SinkSettings(server, { prefix: 'auth' }), {
      env: { ...serverCredentialsEnv(server, { TEST_S3_SECRET: secret }), KOLLECT_GIT_MIRROR_DIR: await tempDir('kollect-s3-state-') },
    });
    sinks.push(sink);
    const { log, lines } = captureLogger();
    const error = await sink.apply(await store({ cluster: 'c1' }), context({ log })).then(
      () => assert.fail('expected a failure'),
      (failure: unknown) => failure as KollectError,
    );
    assert.equal(error.code, 'S3_AUTH_FAILED');
    assert.ok(!JSON.stringify({ message: error.message, data: error.data, lines }).includes(secret));
  });

  it('GIVEN a change WHEN planning THEN the plan names each PUT and DELETE as apply then does them, and writes nothing', async () => {
    const { sink } = await s3Sink('plan');
    await sink.apply(await store({ cluster: 'c1' }), context());
    server.clearRequests();
    const next = await store({ cluster: 'c1', changeNamespaces: ['ns-001'], dropNamespaces: ['ns-002'] });
    const plan = await sink.plan(next, context({ force: true }));
    assert.equal(server.count({ method: 'PUT' }) + server.count({ method: 'POST' }) + server.count({ method: 'DELETE' }), 0);
    const applied = await sink.apply(next, context({ force: true }));
    assert.deepEqual(plan.totals, applied.totals);
    assert.deepEqual(plan.totals, { added: 0, changed: 1, unchanged: plan.totals.unchanged, removed: 1 });
  });
});
