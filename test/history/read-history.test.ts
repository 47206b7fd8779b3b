import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KollectError } from '../../src/errors.js';
import type { ChangeFilter } from '../../src/history/changes-query.js';
import { listChanges, namespaceAsOf, type HistorySource } from '../../src/history/read-history.js';
import { CREATED_AT, ExportedCluster, HISTORY_SINK } from '../support/history.js';
import { pgbouncerSkipReason, startPgBouncer } from '../support/pgbouncer.js';
import { dropTestDatabases, freshDatabase, initTables, sinkDeps, startPostgres, testSinkConfig, withClient } from '../support/postgres.js';

/** Reading the changes table: filters, newest first, the limit, and a namespace rebuilt as it was. */

const pod = (namespace: string, name: string, image: string, app = name.replace(/-\d+$/, '')) => ({
  namespace,
  name,
  labels: { app },
  attributes: { phase: 'Running', images: [image] },
});

const source: HistorySource = { sink: HISTORY_SINK, changesTable: 'kollect_changes' };
let url = '';
/** Times before the first export, and after each export of c1 (before the next one). */
let beforeAll = new Date();
let afterBaseline = new Date();
let afterFirst = new Date();
let afterSecond = new Date();
/** The times c1's two changing exports recorded. */
let firstChange = new Date();
let secondChange = new Date();

/** `name operation` of each change, in the order listed. */
const listed = (result: { changes: Array<{ name: string; operation: string }> }) => result.changes.map((c) => `${c.name} ${c.operation}`);

describe('kollect changes: reading history', () => {
  before(async () => {
    url = await freshDatabase();
    await initTables(url, source.sink);
    const c1 = new ExportedCluster(url, 'c1');
    const c2 = new ExportedCluster(url, 'c2');
    beforeAll = new Date();
    afterBaseline = await c1.export({
      put: [
        pod('shop', 'web-1', 'nginx:1.25'),
        pod('shop', 'web-2', 'nginx:1.25'),
        pod('shop', 'db-1', 'postgres:16'),
        { namespace: 'shop', name: 'settings', kind: 'ConfigMap' },
        pod('other', 'api-1', 'api:1'),
      ],
    });
    await c2.export();
    afterFirst = await c1.export({
      put: [pod('shop', 'web-3', 'nginx:1.25'), pod('shop', 'web-1', 'nginx:1.26')],
      remove: [{ namespace: 'shop', name: 'db-1' }],
    });
    await c2.export({ put: [pod('shop', 'web-1', 'nginx:1.25')] });
    afterSecond = await c1.export({
      put: [pod('shop', 'web-1', 'nginx:1.27'), pod('other', 'api-1', 'api:2')],
      remove: [{ namespace: 'shop', name: 'web-3' }],
    });
    const times = await withClient(
      url,
      async (c) => (await c.query<{ t: Date }>("SELECT DISTINCT changed_at AS t FROM kollect_changes WHERE cluster = 'c1' ORDER BY 1")).rows,
    );
    [firstChange = beforeAll, secondChange = beforeAll] = times.map((r) => r.t);
  });
  after(dropTestDatabases);

  // Filters are functions: the times they use are known once the exports ran.
  const filters: Array<[string, () => Partial<ChangeFilter>, string[]]> = [
    [
      'every cluster, newest first',
      () => ({}),
      ['api-1 update', 'web-1 update', 'web-3 delete', 'web-1 insert', 'db-1 delete', 'web-1 update', 'web-3 insert'],
    ],
    [
      '--cluster c1 --namespace shop',
      () => ({ cluster: 'c1', namespace: 'shop' }),
      ['web-1 update', 'web-3 delete', 'db-1 delete', 'web-1 update', 'web-3 insert'],
    ],
    ['--until the second change (exclusive)', () => ({ cluster: 'c1', until: secondChange }), ['db-1 delete', 'web-1 update', 'web-3 insert']],
    ['--since the second change (inclusive)', () => ({ since: secondChange }), ['api-1 update', 'web-1 update', 'web-3 delete']],
    ['--kind Pod --name web-3', () => ({ kind: 'Pod', name: 'web-3' }), ['web-3 delete', 'web-3 insert']],
    ['--kind pods (the resource) --cluster c2', () => ({ kind: 'pods', cluster: 'c2' }), ['web-1 insert']],
    ['--kind ConfigMap (none changed)', () => ({ kind: 'configmap' }), []],
  ];
  for (const [name, filter, expected] of filters) {
    it(`GIVEN two clusters' history WHEN changes are listed with ${name} THEN exactly the matching changes come, newest first`, async () => {
      const result = await listChanges(source, { since: afterBaseline, limit: 100, ...filter() }, sinkDeps(url));
      assert.deepEqual(listed(result), expected);
      assert.equal(result.truncated, false);
    });
  }

  it('GIVEN seven changes WHEN --limit 2 THEN the newest two come and the result says more matched', async () => {
    const result = await listChanges(source, { since: afterBaseline, limit: 2 }, sinkDeps(url));
    assert.deepEqual(listed(result), ['api-1 update', 'web-1 update']);
    assert.equal(result.truncated, true);
  });

  it('GIVEN an image update WHEN it is listed THEN it carries both images and names the field that changed', async () => {
    const result = await listChanges(source, { since: afterFirst, cluster: 'c1', name: 'web-1', limit: 10 }, sinkDeps(url));
    const [change] = result.changes;
    assert.deepEqual(change?.before?.attributes, { phase: 'Running', images: ['nginx:1.26'] });
    assert.deepEqual(change?.after?.attributes, { phase: 'Running', images: ['nginx:1.27'] });
    assert.deepEqual(change?.changedFields, ['attributes.images']);
    assert.equal(change?.changedAt, secondChange.toISOString());
  });

  // [as of, the objects of namespace shop as `name since image`]
  const asOf: Array<[string, () => Date, string[]]> = [
    [
      'between the baseline and the first change',
      () => afterBaseline,
      ['ConfigMap settings unchanged -', 'Pod db-1 deleted postgres:16', 'Pod web-1 updated nginx:1.25', 'Pod web-2 unchanged nginx:1.25'],
    ],
    [
      'between the two changes',
      () => afterFirst,
      ['ConfigMap settings unchanged -', 'Pod web-1 updated nginx:1.26', 'Pod web-2 unchanged nginx:1.25', 'Pod web-3 deleted nginx:1.25'],
    ],
    [
      'exactly at the first change (it counts)',
      () => firstChange,
      ['ConfigMap settings unchanged -', 'Pod web-1 updated nginx:1.26', 'Pod web-2 unchanged nginx:1.25', 'Pod web-3 deleted nginx:1.25'],
    ],
    ['after the last change', () => afterSecond, ['ConfigMap settings unchanged -', 'Pod web-1 unchanged nginx:1.27', 'Pod web-2 unchanged nginx:1.25']],
  ];
  for (const [name, time, expected] of asOf) {
    it(`GIVEN a namespace that then changed twice (insert, update, delete) WHEN it is rebuilt as of ${name} THEN it holds exactly the objects it held then, as they were`, async () => {
      const result = await namespaceAsOf(source, { cluster: 'c1', namespace: 'shop', asOf: time(), limit: 100 }, sinkDeps(url));
      const images = (attributes: Record<string, unknown>) => (attributes.images as string[] | undefined)?.join(',') ?? '-';
      assert.deepEqual(
        result.objects.map((o) => `${o.kind} ${o.name} ${o.since} ${images(o.attributes)}`),
        expected,
      );
      assert.ok(new Date(result.historyFrom) > beforeAll && new Date(result.historyFrom) < afterBaseline, result.historyFrom);
    });
  }

  it('GIVEN a restored object WHEN it is rebuilt THEN its labels, uid and creation time are those it had', async () => {
    const result = await namespaceAsOf(source, { cluster: 'c1', namespace: 'shop', asOf: afterBaseline, name: 'db-1', limit: 10 }, sinkDeps(url));
    assert.deepEqual(
      result.objects.map((o) => ({ uid: o.uid, labels: o.labels, createdAt: o.createdAt, resource: o.resource })),
      [{ uid: 'uid-db-1', labels: { app: 'db' }, createdAt: new Date(CREATED_AT).toISOString(), resource: 'pods' }],
    );
  });

  const tooEarly: Array<[string, string, () => Date, boolean]> = [
    ['a time before the baseline', 'c1', () => beforeAll, true],
    ['a cluster with no history at all', 'c9', () => afterSecond, false],
  ];
  for (const [name, cluster, time, hasHistory] of tooEarly) {
    it(`GIVEN history from a baseline WHEN a namespace is asked for as of ${name} THEN HISTORY_UNAVAILABLE says where history starts`, async () => {
      await assert.rejects(namespaceAsOf(source, { cluster, namespace: 'shop', asOf: time(), limit: 10 }, sinkDeps(url)), (error: KollectError) => {
        assert.equal(error.code, 'HISTORY_UNAVAILABLE');
        assert.deepEqual([error.data.reason, error.data.historyFrom !== null], ['too-early', hasHistory]);
        return true;
      });
    });
  }

  it('GIVEN a database where history was never enabled WHEN changes are listed THEN HISTORY_UNAVAILABLE says how to enable it', async () => {
    const bare = await freshDatabase();
    await initTables(bare, testSinkConfig());
    await assert.rejects(listChanges(source, { since: beforeAll, limit: 10 }, sinkDeps(bare)), (error: KollectError) => {
      assert.equal(error.code, 'HISTORY_UNAVAILABLE');
      assert.equal(error.data.reason, 'not-enabled');
      assert.match(error.message, /no history table public\.kollect_changes.*"history: true".*kollect db init/);
      return true;
    });
  });
});

describe('kollect changes through PgBouncer (transaction pooling, one server connection)', { skip: pgbouncerSkipReason() }, () => {
  after(dropTestDatabases);

  it('GIVEN history WHEN changes are read through PgBouncer with statementTimeout 7s THEN they come, and the next client finds neither read-only nor the timeout left behind', async () => {
    const direct = await freshDatabase();
    await initTables(direct, HISTORY_SINK);
    const cluster = new ExportedCluster(direct, 'c1');
    const since = await cluster.export({ put: [pod('shop', 'web-1', 'nginx:1.25')] });
    const asOf = await cluster.export({ put: [pod('shop', 'web-1', 'nginx:1.26')] });
    await cluster.export({ remove: [{ namespace: 'shop', name: 'web-1' }] });
    const bouncer = await startPgBouncer((await startPostgres()).url(), { poolMode: 'transaction', poolSize: 1 });
    try {
      const via = { sink: testSinkConfig({ history: true, statementTimeout: '7s' }), changesTable: 'kollect_changes' };
      const changes = await listChanges(via, { since, limit: 10 }, sinkDeps(bouncer.url(direct)));
      const then = await namespaceAsOf(via, { cluster: 'c1', namespace: 'shop', asOf, limit: 10 }, sinkDeps(bouncer.url(direct)));
      const session = await withClient(
        bouncer.url(direct),
        async (c) => (await c.query("SELECT current_setting('statement_timeout') AS timeout, current_setting('transaction_read_only') AS ro")).rows[0],
      );

      assert.deepEqual(listed(changes), ['web-1 delete', 'web-1 update']);
      assert.deepEqual(
        then.objects.map((o) => `${o.name} ${o.since} ${String(o.attributes.images)}`),
        ['web-1 deleted nginx:1.26'],
      );
      assert.deepEqual(session, { timeout: '0', ro: 'off' });
    } finally {
      await bouncer.stop();
    }
  });
});
