import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { InterruptedError, SinkError, StoreError } from '../../../src/errors.js';
import { createPostgresSink } from '../../../src/sinks/postgres/postgres-sink.js';
import {
  dropTestDatabases,
  expectedRows,
  exportStore,
  freshDatabase,
  gatedStore,
  initTables,
  ITEMS_TABLE,
  sinkDeps,
  storedRows,
  tableSnapshot,
  testContext,
  testSinkConfig,
  waitForKollectCopy,
  waitForLockWaiter,
  withClient,
} from '../../support/postgres.js';
import { storeOf, syntheticRows } from '../../support/store-fixture.js';

const config = testSinkConfig();

async function filled(url: string) {
  await initTables(url, config);
  const base = [...syntheticRows({ cluster: 'c1', count: 5_000 })];
  await exportStore(url, await storeOf('c1', base), config);
  const nextRows = [...syntheticRows({ cluster: 'c1', count: 6_000, changedFraction: 0.3, removedFraction: 0.05, revision: 2 })];
  const next = await storeOf('c1', nextRows);
  return { base, next, nextRows, snapshot: await tableSnapshot(url, ITEMS_TABLE) };
}

describe('postgres sink: failures roll back', () => {
  after(dropTestDatabases);

  it('GIVEN an export in the middle of its COPY WHEN its connection is terminated THEN apply throws SinkError, the table is as before, and the next export succeeds', async () => {
    const url = await freshDatabase();
    const { next, nextRows, snapshot } = await filled(url);
    const gated = gatedStore(next, 2_500);
    const sink = createPostgresSink(config, sinkDeps(url));
    const run = sink.apply(gated.store, testContext()).then(
      () => undefined,
      (error: unknown) => error,
    );
    await gated.reached;

    const pid = await waitForKollectCopy(url);
    await withClient(url, (c) => c.query('SELECT pg_terminate_backend($1)', [pid]));
    gated.release();
    const error = await run;

    assert.ok(error instanceof SinkError, `expected SinkError, got ${String(error)}`);
    assert.equal(error.code, 'SINK_FAILED');
    assert.match(error.message, /terminat|connection/i);
    assert.doesNotMatch(error.message, /postgres:\/\//);
    assert.deepEqual(await tableSnapshot(url, ITEMS_TABLE), snapshot);
    const failed = await withClient(url, async (c) => (await c.query("SELECT error FROM kollect_runs WHERE status = 'failed'")).rows);
    assert.equal(failed.length, 1);

    const result = await sink.apply(next, testContext());
    await sink.close();
    assert.ok(result.totals.changed > 0);
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(nextRows));
  });

  it('GIVEN an export in the middle of its COPY WHEN the run is aborted (SIGTERM) THEN it rolls back and throws InterruptedError', async () => {
    const url = await freshDatabase();
    const { next, snapshot } = await filled(url);
    const gated = gatedStore(next, 2_500);
    const controller = new AbortController();
    const sink = createPostgresSink(config, sinkDeps(url));
    const run = sink.apply(gated.store, testContext(controller.signal)).then(
      () => undefined,
      (error: unknown) => error,
    );
    await gated.reached;

    controller.abort(new Error('SIGTERM received'));
    gated.release();
    const error = await run;
    await sink.close();

    assert.ok(error instanceof InterruptedError, `expected InterruptedError, got ${String(error)}`);
    assert.equal(error.code, 'INTERRUPTED');
    assert.deepEqual(await tableSnapshot(url, ITEMS_TABLE), snapshot);
  });

  it(
    'GIVEN an export waiting for the lock of its cluster WHEN the run is aborted THEN the wait is cancelled and InterruptedError is thrown',
    { timeout: 60_000 },
    async () => {
      const url = await freshDatabase();
      const { next, snapshot } = await filled(url);
      const gated = gatedStore(next, 100);
      const holder = createPostgresSink(testSinkConfig({ onLocked: 'wait' }), sinkDeps(url));
      const holding = holder.apply(gated.store, testContext());
      await gated.reached;
      const controller = new AbortController();
      const waiter = createPostgresSink(testSinkConfig({ onLocked: 'wait' }), sinkDeps(url));
      const waiting = waiter.apply(next, testContext(controller.signal)).then(
        () => undefined,
        (error: unknown) => error,
      );
      await waitForLockWaiter(url);

      // The holder keeps the lock until the end of the test: a wait that the abort does not end
      // never ends, and the test's timeout fails it.
      controller.abort(new Error('SIGTERM received'));
      const error = await waiting;
      await waiter.close();

      assert.ok(error instanceof InterruptedError, `expected InterruptedError, got ${String(error)}`);
      assert.deepEqual(await tableSnapshot(url, ITEMS_TABLE), snapshot);
      gated.release();
      await holding;
      await holder.close();
    },
  );

  /** Damage to the 501st pods spool line, in place (the file's size unchanged): what the store's checks at open cannot see. */
  const damages: Array<[string, (line: string) => string]> = [
    ['one field short (a tab lost)', (line) => line.replace('\t', ' ')],
    ['its labels no longer JSON', (line) => line.replace('":"', '";"')],
  ];

  /** A store of 3,000 rows with `damage` done to its 501st pods spool line, and the shard that line is a row of. */
  async function damagedStore(damage: (line: string) => string) {
    const store = await storeOf('c1', syntheticRows({ cluster: 'c1', count: 3_000, changedFraction: 1 }));
    const file = join(store.dir, 'rows', 'pods.tsv');
    const lines = (await readFile(file, 'utf8')).split('\n');
    const offset = Buffer.byteLength(
      lines
        .slice(0, 500)
        .map((line) => `${line}\n`)
        .join(''),
    );
    lines[500] = damage(lines[500]!);
    await writeFile(file, lines.join('\n'));
    const shard = store.shards.find((s) =>
      s.segments.some((segment) => segment.file === 'rows/pods.tsv' && segment.offset <= offset && offset < segment.offset + segment.bytes),
    )!;
    return { store, shard: shard.key };
  }

  for (const table of ['empty (first export: COPY into the table)', 'filled (COPY into staging)'] as const) {
    for (const [damage, damageLine] of damages) {
      it(`GIVEN a ${table} table and a store with a line ${damage} in the middle WHEN exported THEN the COPY fails with STORE_INVALID naming the shard, and nothing is written`, async () => {
        const url = await freshDatabase();
        await initTables(url, config);
        if (table.startsWith('filled')) await filled(url);
        const snapshot = await tableSnapshot(url, ITEMS_TABLE);
        const bad = await damagedStore(damageLine);
        const sink = createPostgresSink(config, sinkDeps(url));

        await assert.rejects(
          sink.apply(bad.store, testContext()),
          (error: unknown) =>
            error instanceof StoreError &&
            error.code === 'STORE_INVALID' &&
            error.data.shard === bad.shard &&
            error.message.includes(`shard "${bad.shard}" holds a line`),
        );
        await sink.close();

        assert.deepEqual(await tableSnapshot(url, ITEMS_TABLE), snapshot);
      });
    }

    it(`GIVEN a ${table} table and a store with one key twice WHEN exported THEN the export fails with STORE_INVALID naming the row, and nothing is written`, async () => {
      const url = await freshDatabase();
      await initTables(url, config);
      if (table.startsWith('filled')) await filled(url);
      const snapshot = await tableSnapshot(url, ITEMS_TABLE);
      const rows = [...syntheticRows({ cluster: 'c1', count: 100 })];
      const twice = await storeOf('c1', [...rows, { ...rows.find((r) => r.resource === 'pods')! }]);
      const sink = createPostgresSink(config, sinkDeps(url));

      await assert.rejects(
        sink.apply(twice, testContext()),
        (error: unknown) => error instanceof StoreError && /shard "ns-\d+" holds two rows of pods named pod-\d+ with uid/.test(error.message),
      );
      await sink.close();

      assert.deepEqual(await tableSnapshot(url, ITEMS_TABLE), snapshot);
    });
  }

  it('GIVEN a database without the tables WHEN exported THEN SinkError names the SQLSTATE and says to run db init', async () => {
    const url = await freshDatabase();
    const sink = createPostgresSink(config, sinkDeps(url));
    const s = await storeOf('c1', syntheticRows({ cluster: 'c1', count: 10 }));

    await assert.rejects(
      sink.apply(s, testContext()),
      (error: unknown) => error instanceof SinkError && /42P01/.test(error.message) && /kollect db init/.test(error.message),
    );
    await assert.rejects(sink.plan(s, testContext()), (error: unknown) => error instanceof SinkError && /42P01/.test(error.message));
    await sink.close();
  });

  it('GIVEN a wrong password in the URL WHEN exported THEN SinkError does not show the URL or the password', async () => {
    const url = new URL(await freshDatabase());
    url.password = 'sekret-password-xyz';
    const sink = createPostgresSink(config, sinkDeps(url.toString()));
    const s = await storeOf('c1', syntheticRows({ cluster: 'c1', count: 10 }));

    const error = await sink.apply(s, testContext()).then(
      () => undefined,
      (e: unknown) => e,
    );
    await sink.close();

    assert.ok(error instanceof SinkError);
    assert.doesNotMatch(`${error.message} ${JSON.stringify(error.toJSON())}`, /sekret-password-xyz|postgres:\/\//);
  });

  it('GIVEN no DATABASE_URL WHEN exported THEN SinkError says which variable is missing', async () => {
    const sink = createPostgresSink(testSinkConfig({ url: { env: 'KOLLECT_TEST_MISSING_URL' } }), { env: {} });
    const s = await storeOf('c1', syntheticRows({ cluster: 'c1', count: 10 }));
    await assert.rejects(
      sink.apply(s, testContext()),
      (error: unknown) => error instanceof SinkError && /KOLLECT_TEST_MISSING_URL is missing or empty/.test(error.message),
    );
    await sink.close();
  });
});
