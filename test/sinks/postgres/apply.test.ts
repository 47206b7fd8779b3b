import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { createPostgresSink, type PostgresSinkResult } from '../../../src/sinks/postgres/postgres-sink.js';
import type { Row } from '../../../src/rows/row.js';
import {
  dropTestDatabases,
  expectedRows,
  exportStore,
  freshDatabase,
  initTables,
  ITEMS_TABLE,
  sinkDeps,
  startPostgres,
  storedRows,
  tableSnapshot,
  testContext,
  testSinkConfig,
  tupleVersions,
  waitForStats,
  withClient,
} from '../../support/postgres.js';
import { storeOf, syntheticRows, type SyntheticOptions } from '../../support/store-fixture.js';

const config = testSinkConfig();

async function store(
  options: SyntheticOptions,
  incomplete?: Record<string, 'forbidden' | 'error' | 'interrupted'>,
  filter: (row: Row) => boolean = () => true,
) {
  const rows = [...syntheticRows(options)].filter(filter);
  return { store: await storeOf(options.cluster, rows, incomplete ? { incomplete } : {}), rows };
}

async function runsRows(url: string) {
  return withClient(url, async (c) => (await c.query('SELECT * FROM "public"."kollect_runs" ORDER BY id')).rows);
}

describe('postgres sink: apply', () => {
  before(async () => {
    await startPostgres();
  });
  after(dropTestDatabases);

  it('GIVEN an empty table WHEN a 20,000-row store is exported THEN the table holds exactly those rows and the runs row matches', async () => {
    const url = await freshDatabase();
    await initTables(url, config);
    const first = await store({ cluster: 'c1', count: 20_000 });

    const result = (await exportStore(url, first.store)) as PostgresSinkResult;

    assert.deepEqual(result.totals, { added: 20_000, changed: 0, unchanged: 0, removed: 0 });
    assert.equal(result.staged, 20_000);
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(first.rows));
    assert.equal(
      result.shards.reduce((n, s) => n + s.counts.added, 0),
      20_000,
    );
    assert.deepEqual(
      result.shards.map((s) => s.shard),
      first.store.shards.map((s) => s.key),
    );
    const runs = await runsRows(url);
    assert.equal(runs.length, 1);
    assert.equal(runs[0].status, 'succeeded');
    assert.equal(runs[0].cluster, 'c1');
    assert.equal(runs[0].sink, 'fleet-db');
    assert.deepEqual([runs[0].rows, runs[0].inserted, runs[0].updated, runs[0].unchanged, runs[0].deleted].map(Number), [20_000, 20_000, 0, 0, 0]);
  });

  it('GIVEN an exported store WHEN the same store is exported again THEN nothing is written: no update, no dead tuple, same tuples', async () => {
    const url = await freshDatabase();
    await initTables(url, config);
    await withClient(url, (c) => c.query(`ALTER TABLE ${ITEMS_TABLE} SET (autovacuum_enabled = false)`));
    const first = await store({ cluster: 'c1', count: 20_000 });
    await exportStore(url, first.store);
    // The first run's statistics are flushed once its insert count shows (its backend has exited).
    const before = await waitForStats(url, 'public', 'kollect_items', (s) => s.ins === 20_000);
    await waitForStats(url, 'public', 'kollect_runs', (s) => s.ins === 1);
    const snapshot = await tableSnapshot(url, ITEMS_TABLE);

    const again = (await exportStore(url, first.store)) as PostgresSinkResult;

    assert.deepEqual(again.totals, { added: 0, changed: 0, unchanged: 20_000, removed: 0 });
    assert.equal(again.staged, 0, 'no row sent: every shard matched its stored rows');
    // The second run's statistics are flushed together with its runs insert.
    await waitForStats(url, 'public', 'kollect_runs', (s) => s.ins === 2);
    const afterStats = await waitForStats(url, 'public', 'kollect_items', () => true);
    assert.deepEqual(afterStats, before);
    assert.equal(afterStats.upd, 0);
    assert.equal(afterStats.dead, 0);
    assert.deepEqual(await tableSnapshot(url, ITEMS_TABLE), snapshot);
  });

  it('GIVEN an exported store WHEN 5% of objects changed and 1% were removed THEN exactly those are updated and deleted, and no other row is written', async () => {
    const url = await freshDatabase();
    await initTables(url, config);
    const base = { cluster: 'c1', count: 20_000 };
    const first = await store(base);
    await exportStore(url, first.store);
    const next = await store({ ...base, changedFraction: 0.05, removedFraction: 0.01, revision: 2 });
    await waitForStats(url, 'public', 'kollect_runs', (s) => s.ins === 1);
    const statsBefore = await waitForStats(url, 'public', 'kollect_items', (s) => s.ins === 20_000);
    const versionsBefore = await tupleVersions(url, ITEMS_TABLE, 'c1');

    const result = await exportStore(url, next.store);

    const firstByKey = expectedRows(first.rows);
    const nextByKey = expectedRows(next.rows);
    const changed = [...nextByKey].filter(([k, sum]) => firstByKey.get(k) !== sum).length;
    const removed = [...firstByKey.keys()].filter((k) => !nextByKey.has(k)).length;
    assert.ok(changed > 700 && changed < 1300, `about 5% changed (${changed})`);
    assert.ok(removed > 100 && removed < 300, `about 1% removed (${removed})`);
    assert.deepEqual(result.totals, { added: 0, changed, unchanged: next.rows.length - changed, removed });
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), nextByKey);
    const runs = await runsRows(url);
    assert.deepEqual([runs[1].inserted, runs[1].updated, runs[1].deleted].map(Number), [0, changed, removed]);
    // Nothing else touched: the counters moved by exactly those rows, and every unchanged row is the same tuple.
    await waitForStats(url, 'public', 'kollect_runs', (s) => s.ins === 2);
    const statsAfter = await waitForStats(url, 'public', 'kollect_items', () => true);
    assert.deepEqual([statsAfter.ins - statsBefore.ins, statsAfter.upd - statsBefore.upd, statsAfter.del - statsBefore.del], [0, changed, removed]);
    const versionsAfter = await tupleVersions(url, ITEMS_TABLE, 'c1');
    const rewritten = [...versionsAfter].filter(([key, version]) => versionsBefore.get(key) !== version).length;
    assert.equal(rewritten, changed);
  });

  it("GIVEN an exported store WHEN rows of two namespaces were changed in the table behind kollect's back and a third namespace is gone from the store THEN the re-export repairs those two, deletes the third, and leaves every other namespace's tuples as they were", async () => {
    const url = await freshDatabase();
    await initTables(url, config);
    const base = { cluster: 'c1', count: 6_000, namespaces: 10 };
    const first = await store(base);
    await exportStore(url, first.store);
    // Behind kollect's back: a checksum changed in ns-001, a row deleted and a stray one added in ns-002.
    await withClient(url, async (c) => {
      await c.query(`UPDATE ${ITEMS_TABLE} SET checksum = repeat('0', 32) WHERE ctid = (SELECT ctid FROM ${ITEMS_TABLE} WHERE namespace = 'ns-001' LIMIT 1)`);
      await c.query(`DELETE FROM ${ITEMS_TABLE} WHERE ctid = (SELECT ctid FROM ${ITEMS_TABLE} WHERE namespace = 'ns-002' LIMIT 1)`);
      await c.query(
        `INSERT INTO ${ITEMS_TABLE} SELECT cluster, namespace, 'stray', 'stray-uid', api_group, api_version, kind, resource, labels, attributes, checksum, resource_version, created_at, collected_at, exported_at FROM ${ITEMS_TABLE} WHERE namespace = 'ns-002' AND resource = 'pods' LIMIT 1`,
      );
    });
    // The next store no longer has ns-003.
    const next = await store(base, undefined, (r) => r.namespace !== 'ns-003');
    const before = await tupleVersions(url, ITEMS_TABLE, 'c1');

    const result = (await exportStore(url, next.store)) as PostgresSinkResult;

    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(next.rows));
    assert.equal(
      result.staged,
      next.rows.filter((r) => r.namespace === 'ns-001' || r.namespace === 'ns-002').length,
      'only the two changed namespaces were sent',
    );
    const gone = first.rows.filter((r) => r.namespace === 'ns-003').length;
    assert.deepEqual(result.totals, { added: 1, changed: 1, unchanged: next.rows.length - 2, removed: gone + 1 });
    const after = await tupleVersions(url, ITEMS_TABLE, 'c1');
    for (const [key, version] of after) {
      if (!/^ns-00[12]\//.test(key)) assert.equal(before.get(key), version, `${key} was rewritten`);
    }
  });

  it('GIVEN a stored row whose checksum is not 32 hex digits (written by something else) WHEN the store is exported again THEN every shard is merged and the row is repaired', async () => {
    const url = await freshDatabase();
    await initTables(url, config);
    const first = await store({ cluster: 'c1', count: 2_000 });
    await exportStore(url, first.store);
    await withClient(url, (c) => c.query(`UPDATE ${ITEMS_TABLE} SET checksum = 'not-a-digest' WHERE ctid = (SELECT ctid FROM ${ITEMS_TABLE} LIMIT 1)`));

    const result = (await exportStore(url, first.store)) as PostgresSinkResult;

    assert.deepEqual(result.totals, { added: 0, changed: 1, unchanged: 1_999, removed: 0 });
    assert.equal(result.staged, 2_000, 'every row sent: fingerprints were not comparable');
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(first.rows));
  });

  for (const reason of ['forbidden', 'interrupted', 'error'] as const) {
    it(`GIVEN an exported store WHEN pods were listed incompletely (${reason}) and are absent THEN no pod row is deleted, complete types still are`, async () => {
      const url = await freshDatabase();
      await initTables(url, config);
      const base = { cluster: 'c1', count: 4_000 };
      const first = await store(base);
      await exportStore(url, first.store);
      // Pods absent (403 / interrupted list), and 1% of the other objects really removed.
      const next = await store({ ...base, removedFraction: 0.01 }, { pods: reason }, (r) => r.resource !== 'pods');

      const result = await exportStore(url, next.store);

      const stored = await storedRows(url, ITEMS_TABLE, 'c1');
      const pods = first.rows.filter((r) => r.resource === 'pods');
      for (const pod of pods) assert.equal(stored.get(`${pod.namespace}/${pod.name}/${pod.uid}`), pod.checksum);
      const removedOthers = first.rows.filter((r) => r.resource !== 'pods').length - next.rows.length;
      assert.ok(removedOthers > 0);
      assert.equal(result.totals.removed, removedOthers);
      assert.equal(stored.size, pods.length + next.rows.length);
    });
  }

  it('GIVEN a store in several states WHEN plan() runs before each apply() THEN its counts equal what apply() does and plan writes nothing', async () => {
    const url = await freshDatabase();
    await initTables(url, config);
    const base = { cluster: 'c1', count: 6_000, namespaces: 30 };
    const states = [
      await store(base),
      await store(base),
      await store({ ...base, changedFraction: 0.05, removedFraction: 0.02, revision: 2 }),
      await store(
        { ...base, count: 7_000, changedFraction: 0.1, revision: 3 },
        { configmaps: 'forbidden' },
        (r) => r.resource !== 'configmaps' || r.namespace !== 'ns-001',
      ),
    ];
    for (const state of states) {
      const snapshot = await tableSnapshot(url, ITEMS_TABLE);
      const sink = createPostgresSink(config, sinkDeps(url));
      const planned = await sink.plan(state.store, testContext());
      await sink.close();
      assert.deepEqual(await tableSnapshot(url, ITEMS_TABLE), snapshot, 'plan wrote nothing');

      const applied = await exportStore(url, state.store);

      assert.deepEqual(planned.totals, applied.totals);
      assert.deepEqual(planned.shards, applied.shards);
    }
  });

  it('GIVEN plan() only WHEN it runs against a filled table THEN no statistics counter of the tables moves', async () => {
    const url = await freshDatabase();
    await initTables(url, config);
    const s = await store({ cluster: 'c1', count: 3_000 });
    await exportStore(url, s.store);
    await waitForStats(url, 'public', 'kollect_runs', (st) => st.ins === 1);
    const items = await waitForStats(url, 'public', 'kollect_items', (st) => st.ins === 3_000);
    const changed = await store({ cluster: 'c1', count: 3_000, changedFraction: 0.5 });

    const sink = createPostgresSink(config, sinkDeps(url));
    const planned = await sink.plan(changed.store, testContext());
    await sink.close();

    assert.ok(planned.totals.changed > 1000);
    // The plan's backend exited on close, so anything it counted would be flushed by now.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    assert.deepEqual(await waitForStats(url, 'public', 'kollect_items', () => true), items);
    assert.equal((await waitForStats(url, 'public', 'kollect_runs', () => true)).ins, 1);
  });
});
