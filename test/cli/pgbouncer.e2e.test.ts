import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import type { PostgresSinkPlan } from '../../src/sinks/postgres/postgres-sink.js';
import { logLines, runKollect } from '../support/cli.js';
import { pgbouncerSkipReason, startPgBouncer, type PgBouncer } from '../support/pgbouncer.js';
import {
  dropTestDatabases,
  expectedRows,
  exportLockOf,
  exportWithCli,
  freshDatabase,
  initTables,
  ITEMS_TABLE,
  SLOW_COPY_STORE,
  sinkResult,
  startPostgres,
  storedRows,
  tableSnapshot,
  testSinkConfig,
  waitForKollectCopy,
  waitForLockWaiter,
  whileLocked,
  withClient,
  writePostgresConfig,
} from '../support/postgres.js';
import { syntheticStore, tempDir } from '../support/store-fixture.js';

/**
 * The built CLI through a real PgBouncer in transaction pooling mode, as fleets run it: PgBouncer
 * without `ignore_startup_parameters` (so any startup parameter but the few it handles is
 * refused), each client transaction on whichever server connection is free. Skipped, with the
 * reason, where no pgbouncer binary is installed.
 */

const skip = pgbouncerSkipReason();

/**
 * Other clients of the same PgBouncer pool, each running `SELECT pg_sleep(0.02)` in a loop (one
 * transaction each) until stopped: they keep the pool's server connections changing hands, and
 * any statement of theirs that gets cancelled is recorded.
 */
function startVictims(url: string, count: number): { stop: () => Promise<{ statements: number; errors: string[] }> } {
  let running = true;
  let statements = 0;
  const errors: string[] = [];
  const loops = Array.from({ length: count }, async () => {
    const client = new pg.Client({ connectionString: url, application_name: 'victim' });
    client.on('error', (error) => errors.push(`connection: ${error.message}`));
    await client.connect();
    try {
      while (running) {
        try {
          await client.query('SELECT pg_sleep(0.02)');
          statements++;
        } catch (error) {
          errors.push(`${(error as { code?: string }).code ?? ''} ${(error as Error).message}`);
        }
      }
    } finally {
      await client.end();
    }
  });
  return {
    async stop() {
      running = false;
      await Promise.all(loops);
      return { statements, errors };
    },
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('kollect through PgBouncer, transaction pooling (processes)', { skip }, () => {
  let bouncer: PgBouncer;
  let dir: string;
  /** A store whose COPY can be caught, and its next version; built once. */
  let big: { base: { dir: string }; next: { dir: string } };

  before(async () => {
    bouncer = await startPgBouncer((await startPostgres()).url(), { poolMode: 'transaction', poolSize: 3 });
    dir = await tempDir();
    const [base, next] = await Promise.all([syntheticStore(SLOW_COPY_STORE), syntheticStore({ ...SLOW_COPY_STORE, changedFraction: 0.2, revision: 2 })]);
    big = { base, next };
  });
  after(async () => {
    await bouncer?.stop();
    await dropTestDatabases();
  });

  it('GIVEN PgBouncer in transaction pooling mode in front of the database WHEN db init, an export, a dry run of changes and their export run through it THEN each exits 0, the rows are exact, the plan is what the export did, and PgBouncer carried them', async () => {
    const direct = await freshDatabase();
    const via = bouncer.url(direct);
    const config = await writePostgresConfig(dir, 'c1');
    const base = await syntheticStore({ cluster: 'c1', count: 3_000 });
    const next = await syntheticStore({ cluster: 'c1', count: 3_300, changedFraction: 0.05, removedFraction: 0.03, revision: 2 });

    const init = await runKollect(['db', 'init', '--config', config], { env: { DATABASE_URL: via } });
    const first = sinkResult(await exportWithCli(via, config, base.dir));
    const planned = sinkResult(await exportWithCli(via, config, next.dir, ['--dry-run']));
    const applied = sinkResult(await exportWithCli(via, config, next.dir));
    const again = sinkResult(await exportWithCli(via, config, next.dir));

    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /applied migration 1: items table/);
    assert.equal(first.inserted, 3_000);
    const counts = (r: PostgresSinkPlan) => ({ inserted: r.inserted, updated: r.updated, unchanged: r.unchanged, deleted: r.deleted, shards: r.shards });
    assert.deepEqual(counts(planned), counts(applied));
    assert.ok(applied.inserted > 0 && applied.updated > 0 && applied.deleted > 0, JSON.stringify(counts(applied)));
    assert.deepEqual({ inserted: again.inserted, updated: again.updated, deleted: again.deleted }, { inserted: 0, updated: 0, deleted: 0 });
    assert.deepEqual(await storedRows(direct, ITEMS_TABLE, 'c1'), expectedRows(next.rows));
    const runs = await withClient(direct, async (c) =>
      (await c.query<{ status: string }>('SELECT status FROM kollect_runs ORDER BY id')).rows.map((r) => r.status),
    );
    assert.deepEqual(runs, ['succeeded', 'succeeded', 'succeeded']);
    const database = new URL(direct).pathname.slice(1);
    const pool = (await bouncer.admin<{ database: string; pool_mode: string }>('SHOW POOLS')).find((p) => p.database === database);
    assert.equal(pool?.pool_mode, 'transaction');
    const stats = (await bouncer.admin<{ database: string; total_xact_count: string }>('SHOW STATS')).find((s) => s.database === database);
    assert.ok(Number(stats?.total_xact_count) >= 5, `PgBouncer counted ${stats?.total_xact_count} transactions`);
  });

  it('GIVEN another session holding the export lock WHEN an export with onLocked wait and statementTimeout 1s runs through PgBouncer THEN the SET LOCAL timeout ends the wait: exit 1 with LOCK_BUSY, nothing written, and the next run succeeds', async () => {
    const direct = await freshDatabase();
    const via = bouncer.url(direct);
    await initTables(direct, testSinkConfig());
    const config = await writePostgresConfig(dir, 'c1', { onLocked: 'wait', statementTimeout: '1s' });
    const rows = await syntheticStore({ cluster: 'c1', count: 500 });

    // No measured time: without the timeout the wait would last until whileLocked lets go (20 s),
    // and the export succeed.
    const blocked = await whileLocked(direct, exportLockOf('c1'), () => exportWithCli(via, config, rows.dir));

    assert.equal(blocked.code, 1, blocked.stderr);
    const error = JSON.parse(blocked.stdout).sinks[0].error;
    assert.equal(error.code, 'LOCK_BUSY');
    assert.match(error.message, /held the export lock of table public\.kollect_items for longer than statementTimeout \(1000 ms\)/);
    assert.equal((await storedRows(direct, ITEMS_TABLE, 'c1')).size, 0);
    assert.equal(sinkResult(await exportWithCli(via, config, rows.dir)).inserted, 500);
  });

  const phases = [
    // The COPY ends by CopyFail at once; the cancel then reaches a backend that is idle in the
    // transaction (PostgreSQL ignores it there), and must reach it before the ROLLBACK hands the
    // server connection back to PgBouncer.
    { phase: 'in the middle of its COPY', sink: {}, lock: false },
    // Only the cancel ends this statement: cancelling any other backend would leave kollect
    // waiting for the lock, and cancel another client's statement instead.
    { phase: 'waiting for the export lock of its cluster (onLocked: wait)', sink: { onLocked: 'wait' }, lock: true },
  ];
  for (const { phase, sink, lock } of phases) {
    it(`GIVEN an export through PgBouncer ${phase} while other clients keep the pool busy WHEN SIGTERM THEN kollect cancels its own backend and no other client's statement, exits 1 INTERRUPTED, the table is as before`, async () => {
      const direct = await freshDatabase();
      const via = bouncer.url(direct);
      await initTables(direct, testSinkConfig());
      const config = await writePostgresConfig(dir, 'c1', sink);
      assert.equal((await exportWithCli(via, config, big.base.dir)).code, 0);
      const snapshot = await tableSnapshot(direct, ITEMS_TABLE);
      const stopExport = async () => {
        // Four clients for the three server connections: the pool is never idle, so the server
        // connection kollect used a moment ago is likely running someone else's statement now.
        const victims = startVictims(via, 4);
        let pid = 0;
        const run = exportWithCli(via, config, big.next.dir, ['-v'], { onSpawn: (p) => (pid = p) });
        const backend = lock ? await waitForLockWaiter(direct) : await waitForKollectCopy(direct, () => process.kill(pid, 'SIGSTOP'));
        await sleep(200);
        process.kill(pid, 'SIGTERM');
        if (!lock) process.kill(pid, 'SIGCONT');
        const failed = await run;
        // No measured time: kollect stopped while the lock was still held, so its cancel ended
        // the wait, not whileLocked letting go (after 20 s).
        const lockHeld =
          lock && ((await withClient(direct, (c) => c.query("SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"))).rowCount ?? 0) > 0;
        // A cancel that went astray would land within this time.
        await sleep(300);
        return { backend, failed, lockHeld, ...(await victims.stop()) };
      };

      const { backend, failed, lockHeld, statements, errors } = lock ? await whileLocked(direct, exportLockOf('c1'), stopExport) : await stopExport();

      assert.equal(failed.code, 1, failed.stderr);
      assert.equal(JSON.parse(failed.stdout).sinks[0].error.code, 'INTERRUPTED');
      const cancels = logLines(failed).filter((l) => l.msg === 'cancelling the running statement');
      assert.deepEqual(
        cancels.map((l) => l.pid),
        [backend],
        'kollect must cancel the backend that runs its transaction',
      );
      assert.deepEqual(errors, [], 'a statement of another client was cancelled');
      assert.ok(statements > 10, `the other clients ran only ${statements} statements`);
      assert.equal(lockHeld, lock, 'the wait for the lock ended only when the lock was let go');
      assert.deepEqual(await tableSnapshot(direct, ITEMS_TABLE), snapshot);
      const open = await withClient(direct, async (c) =>
        Number(
          (await c.query("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'kollect' AND state <> 'idle'"))
            .rows[0].n,
        ),
      );
      assert.equal(open, 0, 'a kollect transaction is still open on the server');
    });
  }
});
