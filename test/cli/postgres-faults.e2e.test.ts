import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Row } from '../../src/rows/row.js';
import {
  dropTestDatabases,
  expectedRows,
  exportWithCli,
  freshDatabase,
  initTables,
  ITEMS_TABLE,
  SLOW_COPY_STORE,
  storedRows,
  tableSnapshot,
  testSinkConfig,
  waitForKollectCopy,
  withClient,
  writePostgresConfig,
} from '../support/postgres.js';
import { syntheticStore, tempDir } from '../support/store-fixture.js';

/**
 * A kollect export process failing in the middle of its COPY: the connection killed by the
 * server, or the process told to stop (SIGTERM, a CronJob deadline). The test holds the exporter
 * at the point it chooses (SIGSTOP once the COPY is seen), acts, and lets it go on (SIGCONT).
 */

let dir: string;
let base: { rows: Row[]; dir: string };
let next: { rows: Row[]; dir: string };

describe('kollect export into PostgreSQL: failures mid-COPY (processes)', () => {
  before(async () => {
    dir = await tempDir();
    [base, next] = await Promise.all([
      syntheticStore(SLOW_COPY_STORE),
      syntheticStore({ ...SLOW_COPY_STORE, changedFraction: 0.2, removedFraction: 0.02, revision: 2 }),
    ]);
  });
  after(dropTestDatabases);

  /** Starts an export of `next`, holds it mid-COPY, runs `act(exporterPid, backendPid)`, then lets it go on. */
  async function interrupted(url: string, config: string, act: (pid: number, backend: number) => Promise<void>) {
    let pid = 0;
    const run = exportWithCli(url, config, next.dir, [], { onSpawn: (p) => (pid = p) });
    const backend = await waitForKollectCopy(url, () => process.kill(pid, 'SIGSTOP'));
    await act(pid, backend);
    process.kill(pid, 'SIGCONT');
    return run;
  }

  for (const fault of ['server connection killed', 'SIGTERM'] as const) {
    it(`GIVEN an export in the middle of its COPY WHEN ${fault} THEN the process exits 1 with a clear error, the table is exactly as before, and the next run succeeds`, async () => {
      const url = await freshDatabase();
      const config = await writePostgresConfig(dir, SLOW_COPY_STORE.cluster);
      await initTables(url, testSinkConfig());
      assert.equal((await exportWithCli(url, config, base.dir)).code, 0);
      const snapshot = await tableSnapshot(url, ITEMS_TABLE);

      const failed = await interrupted(url, config, async (pid, backend) => {
        if (fault === 'SIGTERM') process.kill(pid, 'SIGTERM');
        else await withClient(url, (c) => c.query('SELECT pg_terminate_backend($1)', [backend]));
      });

      assert.equal(failed.code, 1, failed.stderr);
      const outcome = JSON.parse(failed.stdout).sinks[0];
      if (fault === 'SIGTERM') {
        assert.equal(outcome.error.code, 'INTERRUPTED');
        assert.match(failed.stderr, /SIGTERM received, stopping/);
        assert.match(outcome.error.message, /interrupted; the transaction was rolled back, nothing was written/);
      } else {
        assert.equal(outcome.error.code, 'SINK_FAILED');
        // The server's FATAL message, or (when a write raced the close) the broken connection.
        assert.match(
          outcome.error.message,
          /export of cluster c1 to public\.kollect_items failed: (terminating connection due to administrator command \(SQLSTATE 57P01\)|the connection to the database broke \(.+\)); the transaction was rolled back, nothing was written$/,
        );
      }
      assert.deepEqual(await tableSnapshot(url, ITEMS_TABLE), snapshot);
      const sessions = await withClient(
        url,
        async (c) =>
          (await c.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'kollect'")).rows[0].n,
      );
      assert.equal(sessions, 0, 'a kollect session outlived its process');

      const retry = await exportWithCli(url, config, next.dir);
      assert.equal(retry.code, 0, retry.stderr);
      assert.deepEqual(await storedRows(url, ITEMS_TABLE, SLOW_COPY_STORE.cluster), expectedRows(next.rows));
    });
  }
});
