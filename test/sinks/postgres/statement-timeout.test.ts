import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type pg from 'pg';
import { SinkError } from '../../../src/errors.js';
import { initDatabase } from '../../../src/sinks/postgres/init-database.js';
import { createPostgresSink } from '../../../src/sinks/postgres/postgres-sink.js';
import { exportLockKey } from '../../../src/sinks/postgres/schema.js';
import { advisoryKey } from '../../../src/sinks/postgres/sql-names.js';
import {
  dropTestDatabases,
  freshDatabase,
  initTables,
  ITEMS_TABLE,
  sinkDeps,
  storedRows,
  tableSnapshot,
  testContext,
  testSinkConfig,
  whileLocked,
  withClient,
} from '../../support/postgres.js';
import { storeOf, syntheticRows } from '../../support/store-fixture.js';

/**
 * The config's statementTimeout is no startup parameter any more (PgBouncer refuses those): each
 * transaction sets it with SET LOCAL right after BEGIN. These tests make a statement of each
 * transaction wait on a lock held by another session, and check that the wait ends after
 * statementTimeout with the documented error, and that the setting wins over the server's own.
 */

/** Runs `work`, returning what it threw. */
async function failure(work: () => Promise<unknown>): Promise<unknown> {
  return work().then(
    () => undefined,
    (error: unknown) => error,
  );
}

/**
 * The statement timeout ended the wait: SQLSTATE 57014 says so, no measured time. Without it the
 * wait would last until whileLocked's guard releases the lock (20 s), and the work succeed.
 */
function assertTimedOut(error: unknown, action: RegExp): void {
  assert.ok(error instanceof SinkError, `expected SinkError, got ${String(error)}`);
  assert.equal(error.code, 'SINK_FAILED');
  assert.match(error.message, action);
  assert.match(error.message, /canceling statement due to statement timeout \(SQLSTATE 57014\) \(statementTimeout is 1000 ms\)/);
  assert.equal((error.data as { sqlstate?: string }).sqlstate, '57014');
}

describe('postgres sink: statementTimeout is set with SET LOCAL in every transaction', () => {
  after(dropTestDatabases);

  const lockTable = (holder: pg.Client) => holder.query(`LOCK TABLE ${ITEMS_TABLE} IN ACCESS EXCLUSIVE MODE`);

  it('GIVEN the items table locked by another session WHEN an export runs with statementTimeout 1s THEN it fails after about 1 s with SQLSTATE 57014, nothing written, and the failed run is recorded', async () => {
    const url = await freshDatabase();
    const config = testSinkConfig({ statementTimeout: '1s' });
    await initTables(url, config);
    const store = await storeOf('c1', syntheticRows({ cluster: 'c1', count: 200 }));
    const sink = createPostgresSink(config, sinkDeps(url));

    const error = await whileLocked(url, lockTable, () => failure(() => sink.apply(store, testContext())));
    await sink.close();

    assertTimedOut(error, /^sink "fleet-db": export of cluster c1 to public\.kollect_items failed: /);
    assert.match((error as Error).message, /the transaction was rolled back, nothing was written$/);
    assert.equal((await storedRows(url, ITEMS_TABLE, 'c1')).size, 0);
    const runs = await withClient(url, async (c) => (await c.query<{ status: string; error: string }>('SELECT status, error FROM kollect_runs')).rows);
    assert.deepEqual(
      runs.map((r) => r.status),
      ['failed'],
    );
    assert.match(runs[0]!.error, /57014/);
  });

  it('GIVEN the items table locked by another session WHEN a dry run (plan) runs with statementTimeout 1s THEN its READ ONLY transaction fails after about 1 s with SQLSTATE 57014', async () => {
    const url = await freshDatabase();
    const config = testSinkConfig({ statementTimeout: '1s' });
    await initTables(url, config);
    const store = await storeOf('c1', syntheticRows({ cluster: 'c1', count: 200 }));
    const sink = createPostgresSink(config, sinkDeps(url));
    const snapshot = await tableSnapshot(url, ITEMS_TABLE);

    const error = await whileLocked(url, lockTable, () => failure(() => sink.plan(store, testContext())));
    await sink.close();

    assertTimedOut(error, /^sink "fleet-db": plan of cluster c1 against public\.kollect_items failed: /);
    assert.deepEqual(await tableSnapshot(url, ITEMS_TABLE), snapshot);
  });

  it('GIVEN another db init holding the migration lock WHEN db init runs with statementTimeout 1s THEN it fails after about 1 s with SQLSTATE 57014 and changes nothing', async () => {
    const url = await freshDatabase();
    const config = testSinkConfig({ statementTimeout: '1s' });

    const error = await whileLocked(
      url,
      (holder) => holder.query('SELECT pg_advisory_xact_lock($1::bigint)', [advisoryKey('kollect:migrate:public')]),
      () => failure(() => initDatabase(config, {}, sinkDeps(url))),
    );

    assertTimedOut(error, /^sink "fleet-db": db init of public\.kollect_items failed: /);
    const tables = await withClient(url, async (c) => (await c.query("SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 'kollect%'")).rows[0].n);
    assert.equal(tables, 0);
  });

  it('GIVEN a database whose own statement_timeout is 300 ms WHEN an export with statementTimeout 30s waits 1.5 s for its lock THEN the config wins: it waits and succeeds', async () => {
    const url = await freshDatabase();
    const config = testSinkConfig({ onLocked: 'wait', statementTimeout: '30s' });
    await initTables(url, config);
    await withClient(url, (c) => c.query(`ALTER DATABASE ${c.escapeIdentifier(new URL(url).pathname.slice(1))} SET statement_timeout = 300`));
    const rows = [...syntheticRows({ cluster: 'c1', count: 200 })];
    const store = await storeOf('c1', rows);
    const sink = createPostgresSink(config, sinkDeps(url));

    const result = await withClient(url, async (holder) => {
      await holder.query('SET statement_timeout = 0');
      await holder.query('BEGIN');
      await holder.query('SELECT pg_advisory_xact_lock($1::bigint)', [exportLockKey(config, 'c1')]);
      const exporting = sink.apply(store, testContext());
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      await holder.query('COMMIT');
      return exporting;
    });
    await sink.close();

    assert.equal(result.totals.added, 200);
    assert.equal((await storedRows(url, ITEMS_TABLE, 'c1')).size, 200);
  });
});
