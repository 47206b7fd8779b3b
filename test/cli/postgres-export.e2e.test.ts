import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createPostgresSink, type PostgresSinkPlan } from '../../src/sinks/postgres/postgres-sink.js';
import {
  dropTestDatabases,
  expectedRows,
  exportLockOf,
  exportWithCli,
  freshDatabase,
  initTables,
  ITEMS_TABLE,
  sinkDeps,
  sinkResult,
  storedRows,
  tableSnapshot,
  testContext,
  testSinkConfig,
  whileLocked,
  withClient,
  writePostgresConfig,
} from '../support/postgres.js';
import { syntheticStore, tempDir } from '../support/store-fixture.js';

/** `kollect export --from STORE` into PostgreSQL as real processes: many clusters at once, the same cluster twice, --dry-run. */

async function runsCount(url: string, status: string): Promise<number> {
  return withClient(url, async (c) => (await c.query<{ n: number }>('SELECT count(*)::int AS n FROM kollect_runs WHERE status = $1', [status])).rows[0]!.n);
}

describe('kollect export into PostgreSQL (processes)', () => {
  after(dropTestDatabases);

  it('GIVEN 8 exported clusters WHEN 8 exporter processes export changes at once THEN every cluster is exact, every process exits 0, none deadlocks', async () => {
    const url = await freshDatabase();
    const sink = testSinkConfig();
    await initTables(url, sink);
    const dir = await tempDir();
    const clusters = Array.from({ length: 8 }, (_, i) => `cluster-${i}`);
    const configs = await Promise.all(clusters.map((cluster) => writePostgresConfig(dir, cluster)));
    const firsts = await Promise.all(clusters.map((cluster) => syntheticStore({ cluster, count: 1_500 })));
    const seconds = await Promise.all(
      clusters.map((cluster) => syntheticStore({ cluster, count: 1_600, changedFraction: 0.1, removedFraction: 0.02, revision: 2 })),
    );
    // The first exports run in this process (a process start costs about a second of CPU here).
    const exporter = createPostgresSink(sink, sinkDeps(url));
    for (const first of firsts) await exporter.apply(first.store, testContext());
    await exporter.close();

    const runs = await Promise.all(clusters.map((_, i) => exportWithCli(url, configs[i]!, seconds[i]!.dir)));

    for (const [i, cluster] of clusters.entries()) {
      const result = sinkResult(runs[i]!);
      const before = expectedRows(firsts[i]!.rows);
      const after = expectedRows(seconds[i]!.rows);
      const inserted = [...after.keys()].filter((k) => !before.has(k)).length;
      const removed = [...before.keys()].filter((k) => !after.has(k)).length;
      assert.deepEqual([result.inserted, result.deleted], [inserted, removed], cluster);
      assert.ok(inserted > 0 && removed > 0 && result.updated > 100, `${cluster}: ${JSON.stringify(result.totals)}`);
      assert.deepEqual(await storedRows(url, ITEMS_TABLE, cluster), after);
    }
    assert.equal(await runsCount(url, 'succeeded'), 16);
    assert.equal(await runsCount(url, 'failed'), 0);
  });

  it('GIVEN onLocked wait WHEN two processes export the same cluster at once THEN the second waits for the first and finds its rows: one inserts, one leaves them', async () => {
    const url = await freshDatabase();
    await initTables(url, testSinkConfig());
    const config = await writePostgresConfig(await tempDir(), 'c1', { onLocked: 'wait' });
    const s = await syntheticStore({ cluster: 'c1', count: 3_000 });

    const results = (await Promise.all([exportWithCli(url, config, s.dir), exportWithCli(url, config, s.dir)])).map(sinkResult);

    const byInserted = results.sort((a, b) => a.inserted - b.inserted);
    assert.deepEqual(
      byInserted.map((r) => [r.inserted, r.updated, r.unchanged, r.deleted]),
      [
        [0, 0, 3_000, 0],
        [3_000, 0, 0, 0],
      ],
    );
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(s.rows));
  });

  it('GIVEN another run holding the export lock of the cluster WHEN a process exports with onLocked fail THEN it exits 1 with the lock message, writes nothing, and succeeds once the lock is free', async () => {
    const url = await freshDatabase();
    const sink = testSinkConfig();
    await initTables(url, sink);
    const config = await writePostgresConfig(await tempDir(), 'c1', { onLocked: 'fail' });
    const first = await syntheticStore({ cluster: 'c1', count: 1_000 });
    const next = await syntheticStore({ cluster: 'c1', count: 1_000, changedFraction: 0.5, revision: 2 });
    sinkResult(await exportWithCli(url, config, first.dir));
    const snapshot = await tableSnapshot(url, ITEMS_TABLE);

    const blocked = await whileLocked(url, exportLockOf('c1'), () => exportWithCli(url, config, next.dir));
    const untouched = await tableSnapshot(url, ITEMS_TABLE);
    const after = await exportWithCli(url, config, next.dir);

    assert.equal(blocked.code, 1);
    const outcome = JSON.parse(blocked.stdout).sinks[0];
    assert.equal(outcome.error.code, 'LOCK_BUSY');
    assert.match(outcome.error.message, /another kollect run of cluster c1 is exporting to table public\.kollect_items; retry later or set onLocked: wait/);
    assert.deepEqual(untouched, snapshot);
    assert.ok(sinkResult(after).updated > 300);
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(next.rows));
  });

  it('GIVEN an exported cluster WHEN export --dry-run --output json runs THEN its counts equal the following export, and it wrote nothing (rows, checksums, runs)', async () => {
    const url = await freshDatabase();
    await initTables(url, testSinkConfig());
    const config = await writePostgresConfig(await tempDir(), 'c1');
    sinkResult(await exportWithCli(url, config, (await syntheticStore({ cluster: 'c1', count: 2_000 })).dir));
    const next = await syntheticStore({ cluster: 'c1', count: 2_200, changedFraction: 0.05, removedFraction: 0.03, revision: 2 });
    const snapshot = await tableSnapshot(url, ITEMS_TABLE);

    const planned = sinkResult(await exportWithCli(url, config, next.dir, ['--dry-run']));
    const unchangedByPlan = await tableSnapshot(url, ITEMS_TABLE);
    const runsAfterPlan = await runsCount(url, 'succeeded');
    const applied = sinkResult(await exportWithCli(url, config, next.dir));

    assert.deepEqual(unchangedByPlan, snapshot);
    assert.equal(runsAfterPlan, 1);
    const counts = (r: PostgresSinkPlan) => ({
      table: r.table,
      inserted: r.inserted,
      updated: r.updated,
      unchanged: r.unchanged,
      deleted: r.deleted,
      shards: r.shards,
    });
    assert.deepEqual(counts(planned), counts(applied));
    assert.ok(applied.inserted > 0 && applied.updated > 0 && applied.deleted > 0, JSON.stringify(counts(applied)));
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(next.rows));
  });
});
