import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InterruptedError } from '../../../src/errors.js';
import { createPostgresSink } from '../../../src/sinks/postgres/postgres-sink.js';
import { pgbouncerSkipReason, startPgBouncer, type PgBouncer } from '../../support/pgbouncer.js';
import {
  dropTestDatabases,
  expectedRows,
  exportStore,
  freshDatabase,
  gatedStore,
  initTables,
  ITEMS_TABLE,
  sinkDeps,
  startPostgres,
  storedRows,
  tableSnapshot,
  testContext,
  testSinkConfig,
  waitForKollectCopy,
  withClient,
} from '../../support/postgres.js';
import { storeOf, syntheticRows } from '../../support/store-fixture.js';

/**
 * The sink through a real PgBouncer with ONE server connection in transaction pooling mode: every
 * client takes turns on the same backend, so whatever kollect left behind on it (a session
 * setting, a prepared statement, a cursor, a temporary table) the next client would see, and a
 * cancel kollect sends has to wait for the server connection that kollect's own transaction holds.
 */

const skip = pgbouncerSkipReason();

describe('postgres sink through PgBouncer (transaction pooling, one server connection)', { skip }, () => {
  let bouncer: PgBouncer;

  before(async () => {
    bouncer = await startPgBouncer((await startPostgres()).url(), { poolMode: 'transaction', poolSize: 1 });
  });
  after(async () => {
    await bouncer?.stop();
    await dropTestDatabases();
  });

  it("GIVEN kollect exports (first, then through staging) and plans with statementTimeout 7s WHEN the next client runs on the same server connection THEN it finds nothing of kollect: the server's statement_timeout, no prepared statement, cursor or staging table", async () => {
    const direct = await freshDatabase();
    const via = bouncer.url(direct);
    const config = testSinkConfig({ statementTimeout: '7s' });
    await initTables(direct, config);
    const first = [...syntheticRows({ cluster: 'c1', count: 2_000 })];
    const second = [...syntheticRows({ cluster: 'c1', count: 2_000, changedFraction: 0.1, removedFraction: 0.02, revision: 2 })];
    const sink = createPostgresSink(config, sinkDeps(via));
    await sink.apply(await storeOf('c1', first), testContext());
    const store = await storeOf('c1', second);
    const planned = await sink.plan(store, testContext());
    const applied = await sink.apply(store, testContext());
    await sink.close();

    const left = await withClient(via, async (c) => {
      // (application_name is not compared: PgBouncer leaves the last client's on the server
      // connection for a client that sends none, as this one; kollect always sends its own.)
      const row = await c.query<{ timeout: string; prepared: number; cursors: number; staging: number }>(
        `SELECT current_setting('statement_timeout') AS timeout,
                (SELECT count(*)::int FROM pg_prepared_statements) AS prepared,
                (SELECT count(*)::int FROM pg_cursors) AS cursors,
                (SELECT count(*)::int FROM pg_class WHERE relname = 'kollect_staging') AS staging`,
      );
      return row.rows[0]!;
    });

    assert.deepEqual(planned.totals, applied.totals);
    assert.ok(applied.totals.changed > 0 && applied.totals.removed > 0);
    assert.deepEqual(await storedRows(direct, ITEMS_TABLE, 'c1'), expectedRows(second));
    assert.deepEqual(left, { timeout: '0', prepared: 0, cursors: 0, staging: 0 });
    const servers = (await bouncer.admin<{ database: string; sv_idle: number; sv_used: number; sv_active: number }>('SHOW POOLS')).find(
      (p) => p.database === new URL(direct).pathname.slice(1),
    );
    assert.equal((servers?.sv_idle ?? 0) + (servers?.sv_used ?? 0) + (servers?.sv_active ?? 0), 1, 'one server connection served every client');
  });

  it('GIVEN two clusters with history WHEN both export their changes at once through the one server connection THEN each run wrote exactly one changes row per insert, update and delete, under its own run id', async () => {
    const direct = await freshDatabase();
    const via = bouncer.url(direct);
    const config = testSinkConfig({ history: true });
    await initTables(direct, config);
    await Promise.all(['a', 'b'].map(async (cluster) => exportStore(via, await storeOf(cluster, syntheticRows({ cluster, count: 1_500 })), config)));

    const results = await Promise.all(
      ['a', 'b'].map(async (cluster, i) =>
        exportStore(
          via,
          await storeOf(cluster, syntheticRows({ cluster, count: 1_600, changedFraction: 0.1 * (i + 1), removedFraction: 0.03, revision: 2 })),
          config,
        ),
      ),
    );

    const recorded = await withClient(direct, async (c) => {
      const rows = await c.query<{ cluster: string; operation: string; n: number }>(
        `SELECT h.cluster, h.operation, count(*)::int AS n FROM kollect_changes h JOIN kollect_runs r ON r.id = h.run_id AND r.cluster = h.cluster
          GROUP BY 1, 2 ORDER BY 1, 2`,
      );
      return rows.rows.map((r) => `${r.cluster} ${r.operation} ${r.n}`);
    });
    const expected = ['a', 'b'].flatMap((cluster, i) => {
      const t = results[i]!.totals;
      return [`${cluster} delete ${t.removed}`, `${cluster} insert ${t.added}`, `${cluster} update ${t.changed}`];
    });
    assert.deepEqual(recorded, expected);
    assert.ok(results.every((r) => r.totals.added > 0 && r.totals.changed > 0 && r.totals.removed > 0));
  });

  it('GIVEN an export holding the only server connection in the middle of its COPY WHEN the run is aborted and its cancel cannot get a server connection THEN after cancelWaitMs kollect closes the connection instead of rolling back: InterruptedError, the backend is gone, nothing written, the pool works on', async () => {
    const direct = await freshDatabase();
    const via = bouncer.url(direct);
    const config = testSinkConfig();
    await initTables(direct, config);
    const rows = [...syntheticRows({ cluster: 'c1', count: 5_000 })];
    await exportStore(via, await storeOf('c1', rows), config);
    const nextRows = [...syntheticRows({ cluster: 'c1', count: 5_000, changedFraction: 0.3, revision: 2 })];
    const next = await storeOf('c1', nextRows);
    const snapshot = await tableSnapshot(direct, ITEMS_TABLE);
    const gated = gatedStore(next, 2_500);
    const controller = new AbortController();
    const sink = createPostgresSink(config, { ...sinkDeps(via), cancelWaitMs: 1_000 });
    const warnings: string[] = [];
    const ctx = testContext(controller.signal);
    const run = sink.apply(gated.store, { ...ctx, log: { ...ctx.log, warn: (message: string) => void warnings.push(message) } }).then(
      () => undefined,
      (error: unknown) => error,
    );
    await gated.reached;
    const backend = await waitForKollectCopy(direct);

    controller.abort(new Error('SIGTERM received'));
    gated.release();
    const error = await run;
    await sink.close();

    assert.ok(error instanceof InterruptedError, `expected InterruptedError, got ${String(error)}`);
    // cancelWaitMs ran out (the cancel found no server connection), not a measured time.
    assert.deepEqual(warnings, ['the running statement could not be cancelled in time; closing the connection instead, the server rolls back']);
    // PgBouncer drops a server connection whose client left in the middle of a transaction, so
    // that backend (the one a late cancel would target) is never handed to another client.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const alive = await withClient(direct, async (c) => (await c.query('SELECT 1 FROM pg_stat_activity WHERE pid = $1', [backend])).rowCount);
      if (alive === 0) break;
      assert.ok(Date.now() < deadline, `backend ${backend} of the aborted export is still there`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.deepEqual(await tableSnapshot(direct, ITEMS_TABLE), snapshot);
    const result = await exportStore(via, next, config);
    assert.ok(result.totals.changed > 0);
    assert.deepEqual(await storedRows(direct, ITEMS_TABLE, 'c1'), expectedRows(nextRows));
  });
});
