import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { LockBusyError } from '../../../src/errors.js';
import { createPostgresSink } from '../../../src/sinks/postgres/postgres-sink.js';
import { exportLockKey } from '../../../src/sinks/postgres/schema.js';
import type { CollectStore } from '../../../src/store/collect-store.js';
import {
  dropTestDatabases,
  expectedRows,
  exportLockOf,
  exportStore,
  freshDatabase,
  gatedStore,
  initTables,
  ITEMS_TABLE,
  sinkDeps,
  storedRows,
  testContext,
  testSinkConfig,
  waitForLockWaiter,
  whileLocked,
  withClient,
} from '../../support/postgres.js';
import { syntheticStore } from '../../support/store-fixture.js';

const clusterStore = (cluster: string, count: number, extra: { changedFraction?: number; revision?: number } = {}) =>
  syntheticStore({ cluster, count, ...extra });

const exportWith = (url: string, store: CollectStore, onLocked: 'wait' | 'fail' = 'fail') => exportStore(url, store, testSinkConfig({ onLocked }));

describe('postgres sink: several clusters and runs at once', () => {
  after(dropTestDatabases);

  it('GIVEN two clusters in one table WHEN each exports and one then changes THEN each cluster holds exactly its own rows', async () => {
    const url = await freshDatabase();
    await initTables(url, testSinkConfig());
    const a = await clusterStore('cluster-a', 3_000);
    const b = await clusterStore('cluster-b', 2_000);
    await exportWith(url, a.store);
    await exportWith(url, b.store);
    // cluster-b loses most objects: only its own rows may go.
    const b2 = await clusterStore('cluster-b', 500, { changedFraction: 0.2, revision: 2 });

    const result = await exportWith(url, b2.store);

    assert.equal(result.totals.removed, 1_500);
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'cluster-a'), expectedRows(a.rows));
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'cluster-b'), expectedRows(b2.rows));
  });

  it('GIVEN 8 clusters WHEN they export at once, twice, with separate pools THEN every cluster is exact and none deadlocks', async () => {
    const url = await freshDatabase();
    await initTables(url, testSinkConfig());
    const clusters = await Promise.all(Array.from({ length: 8 }, (_, i) => clusterStore(`cluster-${i}`, 2_500)));
    const changed = await Promise.all(Array.from({ length: 8 }, (_, i) => clusterStore(`cluster-${i}`, 2_500, { changedFraction: 0.1, revision: 2 })));

    const first = await Promise.all(clusters.map((c) => exportWith(url, c.store)));
    const second = await Promise.all(changed.map((c) => exportWith(url, c.store)));

    for (const r of first) assert.equal(r.totals.added, 2_500);
    for (const r of second) assert.ok(r.totals.changed > 150 && r.totals.added === 0 && r.totals.removed === 0);
    for (let i = 0; i < 8; i++) assert.deepEqual(await storedRows(url, ITEMS_TABLE, `cluster-${i}`), expectedRows(changed[i]!.rows));
    const runs = await withClient(url, async (c) => (await c.query("SELECT count(*) AS n FROM kollect_runs WHERE status = 'succeeded'")).rows[0].n);
    assert.equal(Number(runs), 16);
  });

  it('GIVEN an export of a cluster in progress WHEN a second export of the same cluster starts with onLocked fail THEN it gets LockBusyError and the table stays right', async () => {
    const url = await freshDatabase();
    await initTables(url, testSinkConfig());
    const c = await clusterStore('c1', 3_000);
    const gated = gatedStore(c.store, 1_000);
    const firstRun = exportWith(url, gated.store, 'fail');
    await gated.reached;

    const second = await exportWith(url, c.store, 'fail').then(
      () => undefined,
      (error: unknown) => error,
    );
    gated.release();
    const first = await firstRun;

    assert.ok(second instanceof LockBusyError, `expected LockBusyError, got ${String(second)}`);
    assert.equal(second.code, 'LOCK_BUSY');
    assert.match(second.message, /another kollect run of cluster c1 is exporting to table public\.kollect_items/);
    assert.equal(first.totals.added, 3_000);
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(c.rows));
  });

  it('GIVEN an export of a cluster in progress WHEN a second export of the same cluster starts with onLocked wait THEN it waits and both succeed, one after the other', async () => {
    const url = await freshDatabase();
    await initTables(url, testSinkConfig());
    const c = await clusterStore('c1', 3_000);
    const gated = gatedStore(c.store, 1_000);
    const firstRun = exportWith(url, gated.store, 'wait');
    await gated.reached;

    const secondRun = exportWith(url, c.store, 'wait');
    await waitForLockWaiter(url);
    gated.release();
    const [first, second] = await Promise.all([firstRun, secondRun]);

    assert.equal(first.totals.added, 3_000);
    // The second saw the first's committed rows: it ran after it, not beside it.
    assert.deepEqual(second.totals, { added: 0, changed: 0, unchanged: 3_000, removed: 0 });
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(c.rows));
  });

  it('GIVEN another session holding the export lock WHEN an export with onLocked wait outlasts statementTimeout THEN LockBusyError says the lock was held too long, nothing written', async () => {
    const url = await freshDatabase();
    const config = testSinkConfig({ onLocked: 'wait', statementTimeout: '1s' });
    await initTables(url, config);
    const c = await clusterStore('c1', 200);

    const error = await whileLocked(url, exportLockOf('c1'), () =>
      exportStore(url, c.store, config).then(
        () => undefined,
        (e: unknown) => e,
      ),
    );

    assert.ok(error instanceof LockBusyError, `expected LockBusyError, got ${String(error)}`);
    assert.match(
      error.message,
      /another kollect run of cluster c1 held the export lock of table public\.kollect_items for longer than statementTimeout \(1000 ms\)/,
    );
    assert.equal((await storedRows(url, ITEMS_TABLE, 'c1')).size, 0);
  });

  it('GIVEN an export that deadlocks with another session WHEN PostgreSQL aborts it (40P01) THEN the whole export is retried once and succeeds, with no failed run recorded', async () => {
    const url = await freshDatabase();
    const config = testSinkConfig({ onLocked: 'wait' });
    await initTables(url, config);
    const base = await clusterStore('c1', 500);
    await exportWith(url, base.store);
    const changed = await clusterStore('c1', 500, { changedFraction: 1, revision: 2 });
    const warnings: string[] = [];
    const ctx = { ...testContext(), log: { ...testContext().log, warn: (message: string) => void warnings.push(message) } };

    const result = await withClient(url, async (other) => {
      // The other session locks a row the export will update, then (once the export waits for
      // that row) asks for the export lock: a cycle. It waits the longest to look for deadlocks,
      // so PostgreSQL aborts the export, not it.
      await other.query('BEGIN');
      await other.query("SET LOCAL deadlock_timeout = '20s'");
      await other.query("UPDATE kollect_items SET exported_at = exported_at WHERE cluster = 'c1' AND name = $1", [changed.rows[0]!.name]);
      const sink = createPostgresSink(config, sinkDeps(url));
      const exporting = sink.apply(changed.store, ctx).finally(() => sink.close());
      await waitForLockWaiter(url, 'transactionid');
      const cycle = other.query('SELECT pg_advisory_xact_lock($1::bigint)', [exportLockKey(config, 'c1')]);
      await cycle;
      await other.query('COMMIT');
      return exporting;
    });

    assert.equal(result.totals.changed, 500);
    assert.deepEqual(warnings, ['export hit a serialization failure or deadlock; retrying once']);
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(changed.rows));
    const runs = await withClient(url, async (c) => (await c.query('SELECT status FROM kollect_runs ORDER BY id')).rows.map((r) => r.status));
    assert.deepEqual(runs, ['succeeded', 'succeeded']);
  });
});
