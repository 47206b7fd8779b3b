import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { InterruptedError } from '../../../src/errors.js';
import { openTransaction, type TransactionOptions } from '../../../src/sinks/postgres/transaction.js';
import { dropTestDatabases, freshDatabase, testContext, withClient } from '../../support/postgres.js';

/** Waits until a session of this database runs a statement that starts with `prefix`. */
async function waitForStatement(url: string, prefix: string): Promise<void> {
  await withClient(url, async (client) => {
    for (;;) {
      const found = await client.query("SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND state = 'active' AND query LIKE $1", [
        `${prefix}%`,
      ]);
      if (found.rowCount) return;
      await new Promise((done) => setTimeout(done, 20));
    }
  });
}

describe('postgres sink: a transaction an abort cancels', () => {
  let url: string;
  let pool: pg.Pool;
  const options = (statementTimeout = 0): TransactionOptions => ({
    config: { name: 'fleet-db', statementTimeout },
    connection: { connectionString: url },
    secrets: [],
    action: 'export',
  });
  const rowsOfT = (): Promise<number> => withClient(url, async (c) => (await c.query('SELECT x FROM t')).rowCount ?? 0);

  before(async () => {
    url = await freshDatabase();
    await withClient(url, (c) => c.query('CREATE TABLE t (x int)'));
    // One connection: whatever a transaction leaves behind on it, the next one meets.
    pool = new pg.Pool({ connectionString: url, max: 1 });
  });
  after(async () => {
    await pool.end();
    await dropTestDatabases();
  });

  it(
    'GIVEN a transaction that wrote a row and runs a 60 s statement WHEN the run is aborted THEN the statement is cancelled, the row is rolled back, and the connection serves the next transaction',
    { timeout: 30_000 },
    async () => {
      const abort = new AbortController();
      const tx = await openTransaction(pool, options(), testContext(abort.signal));
      await tx.begin('BEGIN');
      await tx.run('INSERT INTO t VALUES (1)');

      const sleeping = tx.run('SELECT pg_sleep(60)');
      await waitForStatement(url, 'SELECT pg_sleep');
      abort.abort();
      const error = await sleeping.then(
        () => undefined,
        (e: unknown) => e,
      );
      await tx.rollback();
      tx.release();

      assert.equal((error as { code?: string }).code, '57014', `the statement ended with ${String(error)}`);
      assert.equal(await rowsOfT(), 0);
      assert.equal((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
    },
  );

  it('GIVEN a transaction that wrote a row and is idle WHEN the run is aborted THEN commit refuses with InterruptedError and nothing is written', async () => {
    const abort = new AbortController();
    const tx = await openTransaction(pool, options(), testContext(abort.signal));
    await tx.begin('BEGIN');
    await tx.run('INSERT INTO t VALUES (2)');

    abort.abort();
    await assert.rejects(tx.commit(), InterruptedError);
    await tx.rollback();
    tx.release();

    assert.equal(await rowsOfT(), 0);
    assert.equal((await pool.query<{ one: number }>('SELECT 1 AS one')).rows[0]?.one, 1);
  });

  it(
    'GIVEN statementTimeout 300 ms WHEN a statement of the transaction runs 5 s THEN it fails with SQLSTATE 57014, and the timeout ends with the transaction',
    { timeout: 30_000 },
    async () => {
      const tx = await openTransaction(pool, options(300), testContext());
      await tx.begin('BEGIN');

      const error = await tx.run('SELECT pg_sleep(5)').then(
        () => undefined,
        (e: unknown) => e,
      );
      await tx.rollback();
      tx.release();

      assert.equal((error as { code?: string }).code, '57014', `the statement ended with ${String(error)}`);
      const server = await withClient(url, async (c) => (await c.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]?.statement_timeout);
      assert.equal((await pool.query<{ statement_timeout: string }>('SHOW statement_timeout')).rows[0]?.statement_timeout, server);
    },
  );
});
