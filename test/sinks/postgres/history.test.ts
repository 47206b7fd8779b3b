import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { InterruptedError, SinkError } from '../../../src/errors.js';
import type { Row } from '../../../src/rows/row.js';
import { ddlText } from '../../../src/sinks/postgres/ddl.js';
import { createPostgresSink } from '../../../src/sinks/postgres/postgres-sink.js';
import { tableNames } from '../../../src/sinks/postgres/schema.js';
import {
  dropTestDatabases,
  expectedRows,
  exportStore,
  freshDatabase,
  initTables,
  ITEMS_TABLE,
  sinkDeps,
  storedRows,
  tableSnapshot,
  testContext,
  testSinkConfig,
  waitForLockWaiter,
  whileLocked,
  withClient,
} from '../../support/postgres.js';
import { storeOf, syntheticRows, type SyntheticOptions } from '../../support/store-fixture.js';

/** `history` on a postgres sink: the changes rows an export writes, against a real server. */

const CHANGES_TABLE = '"public"."kollect_changes"';
const config = testSinkConfig({ history: true });

/** One changes row as a test compares it: what happened to which object, and its images. */
interface Change {
  operation: string;
  before: string | null;
  after: string | null;
  labelsBefore: Record<string, string> | null;
  labelsAfter: Record<string, string> | null;
}

/** The changes rows of `cluster` (of one run, when given), keyed `namespace/name/uid`. */
async function changesOf(url: string, cluster: string, runId?: string): Promise<Map<string, Change>> {
  return withClient(url, async (c) => {
    const result = await c.query(
      `SELECT namespace || '/' || name || '/' || uid AS key, operation, checksum_before, checksum_after, labels_before, labels_after
         FROM ${CHANGES_TABLE} WHERE cluster = $1 AND ($2::bigint IS NULL OR run_id = $2) ORDER BY key`,
      [cluster, runId ?? null],
    );
    return new Map(
      result.rows.map((r) => [
        r.key,
        { operation: r.operation, before: r.checksum_before, after: r.checksum_after, labelsBefore: r.labels_before, labelsAfter: r.labels_after },
      ]),
    );
  });
}

/** The changes an export from `before` to `after` must record, keyed as changesOf() keys them. */
function expectedChanges(before: readonly Row[], after: readonly Row[]): Map<string, Change> {
  const key = (r: Row): string => `${r.namespace}/${r.name}/${r.uid}`;
  const old = new Map(before.map((r) => [key(r), r]));
  const now = new Map(after.map((r) => [key(r), r]));
  const changes = new Map<string, Change>();
  for (const [k, r] of now) {
    const was = old.get(k);
    if (!was) changes.set(k, { operation: 'insert', before: null, after: r.checksum, labelsBefore: null, labelsAfter: r.labels });
    else if (was.checksum !== r.checksum)
      changes.set(k, { operation: 'update', before: was.checksum, after: r.checksum, labelsBefore: was.labels, labelsAfter: r.labels });
  }
  for (const [k, was] of old) {
    if (!now.has(k)) changes.set(k, { operation: 'delete', before: was.checksum, after: null, labelsBefore: was.labels, labelsAfter: null });
  }
  return new Map([...changes].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

async function runsOf(url: string): Promise<Array<{ id: string; cluster: string; baseline: boolean; status: string }>> {
  return withClient(url, async (c) => (await c.query('SELECT id::text, cluster, baseline, status FROM "public"."kollect_runs" ORDER BY id')).rows);
}

const rowsOf = (options: SyntheticOptions): Row[] => [...syntheticRows(options)];

describe('postgres sink: history', () => {
  after(dropTestDatabases);

  it('GIVEN history on WHEN a cluster exports for the first time, then with objects added, changed and removed, then unchanged THEN the first is one baseline run without changes rows, the second writes exactly one row per insert, update and delete with its images, the third none', async () => {
    const url = await freshDatabase();
    await initTables(url, config);
    const first = rowsOf({ cluster: 'c1', count: 1_000 });
    const second = rowsOf({ cluster: 'c1', count: 1_050, changedFraction: 0.05, removedFraction: 0.02, revision: 2 });

    const baseline = await exportStore(url, await storeOf('c1', first), config);
    const changed = await exportStore(url, await storeOf('c1', second), config);
    const again = await exportStore(url, await storeOf('c1', second), config);

    const runs = await runsOf(url);
    assert.deepEqual(
      runs.map((r) => [r.baseline, r.status]),
      [
        [true, 'succeeded'],
        [false, 'succeeded'],
        [false, 'succeeded'],
      ],
    );
    assert.equal(baseline.totals.added, 1_000);
    const expected = expectedChanges(first, second);
    const counts = (operation: string) => [...expected.values()].filter((c) => c.operation === operation).length;
    assert.deepEqual(changed.totals, { added: counts('insert'), changed: counts('update'), removed: counts('delete'), unchanged: changed.totals.unchanged });
    assert.ok(counts('insert') > 0 && counts('update') > 0 && counts('delete') > 0);
    assert.equal(again.totals.added + again.totals.changed + again.totals.removed, 0);
    assert.deepEqual(await changesOf(url, 'c1'), expected);
    assert.deepEqual(await changesOf(url, 'c1', runs[1]!.id), expected);
    // changed_at is the items' exported_at; a delete keeps the whole before image.
    const times = await withClient(url, async (c) => {
      const items = await c.query(
        `SELECT DISTINCT i.exported_at = h.changed_at AS same FROM ${ITEMS_TABLE} i JOIN ${CHANGES_TABLE} h USING (cluster, namespace, name, uid)`,
      );
      const deleted = await c.query(
        `SELECT attributes_before, created_at_before, api_group, kind, resource FROM ${CHANGES_TABLE} WHERE operation = 'delete' LIMIT 1`,
      );
      return { same: items.rows.map((r) => r.same), deleted: deleted.rows[0] };
    });
    assert.deepEqual(times.same, [true]);
    assert.equal(times.deleted.attributes_before.phase, 'Running');
    assert.equal(times.deleted.created_at_before.toISOString(), '2026-01-01T00:00:00.000Z');
  });

  it('GIVEN history on WHEN pods were listed incompletely and are absent, and other objects are removed THEN no delete of a pod is recorded, the other deletes are', async () => {
    const url = await freshDatabase();
    await initTables(url, config);
    const first = rowsOf({ cluster: 'c1', count: 400 });
    const second = rowsOf({ cluster: 'c1', count: 400, removedFraction: 0.1, revision: 2 }).filter((r) => r.resource !== 'pods');
    await exportStore(url, await storeOf('c1', first), config);

    await exportStore(url, await storeOf('c1', second, { incomplete: { pods: 'forbidden' } }), config);

    const changes = await changesOf(url, 'c1');
    const expected = expectedChanges(
      first.filter((r) => r.resource !== 'pods'),
      second,
    );
    assert.deepEqual(changes, expected);
    assert.ok([...changes.values()].every((c) => c.operation === 'delete'));
    assert.ok(changes.size > 0);
    assert.equal((await storedRows(url, ITEMS_TABLE, 'c1')).size, second.length + first.filter((r) => r.resource === 'pods').length);
  });

  it('GIVEN two clusters with history WHEN both export their changes at the same time THEN each cluster has exactly its own changes rows, under its own run', async () => {
    const url = await freshDatabase();
    await initTables(url, config);
    const before = { a: rowsOf({ cluster: 'a', count: 2_000 }), b: rowsOf({ cluster: 'b', count: 1_500 }) };
    const after = {
      a: rowsOf({ cluster: 'a', count: 2_100, changedFraction: 0.1, removedFraction: 0.05, revision: 2 }),
      b: rowsOf({ cluster: 'b', count: 1_500, changedFraction: 0.2, revision: 3 }),
    };
    await Promise.all([exportStore(url, await storeOf('a', before.a), config), exportStore(url, await storeOf('b', before.b), config)]);

    await Promise.all([exportStore(url, await storeOf('a', after.a), config), exportStore(url, await storeOf('b', after.b), config)]);

    assert.deepEqual(await changesOf(url, 'a'), expectedChanges(before.a, after.a));
    assert.deepEqual(await changesOf(url, 'b'), expectedChanges(before.b, after.b));
    const owners = await withClient(
      url,
      async (c) =>
        (
          await c.query(
            `SELECT DISTINCT h.cluster, r.cluster = h.cluster AND NOT r.baseline AS own FROM ${CHANGES_TABLE} h JOIN kollect_runs r ON r.id = h.run_id`,
          )
        ).rows,
    );
    assert.deepEqual(
      owners.sort((x, y) => (x.cluster < y.cluster ? -1 : 1)),
      [
        { cluster: 'a', own: true },
        { cluster: 'b', own: true },
      ],
    );
  });

  it('GIVEN history with baseline: rows WHEN a cluster exports for the first time THEN every object is one insert row of that baseline run', async () => {
    const url = await freshDatabase();
    const rowsConfig = testSinkConfig({ history: { baseline: 'rows' } });
    await initTables(url, rowsConfig);
    const rows = rowsOf({ cluster: 'c1', count: 300 });

    await exportStore(url, await storeOf('c1', rows), rowsConfig);

    assert.deepEqual(await changesOf(url, 'c1'), expectedChanges([], rows));
    assert.deepEqual(
      (await runsOf(url)).map((r) => r.baseline),
      [true],
    );
  });

  it('GIVEN history on and a change written to the changes table WHEN the export is stopped (SIGTERM) while it waits to record its run THEN neither items nor changes rows are written', async () => {
    const url = await freshDatabase();
    await initTables(url, config);
    await exportStore(url, await storeOf('c1', rowsOf({ cluster: 'c1', count: 600 })), config);
    const items = await tableSnapshot(url, ITEMS_TABLE);
    const next = await storeOf('c1', rowsOf({ cluster: 'c1', count: 650, changedFraction: 0.1, removedFraction: 0.05, revision: 2 }));
    const controller = new AbortController();
    const sink = createPostgresSink(config, sinkDeps(url));

    // The runs table locked against inserts: the export stops at its last statement, the merge and its changes done.
    const error = await whileLocked(
      url,
      (holder) => holder.query('LOCK TABLE kollect_runs IN SHARE MODE'),
      async () => {
        const run = sink.apply(next, testContext(controller.signal)).then(
          () => undefined,
          (e: unknown) => e,
        );
        await waitForLockWaiter(url, 'relation');
        controller.abort(new Error('SIGTERM received'));
        return run;
      },
    );
    await sink.close();

    assert.ok(error instanceof InterruptedError, `expected InterruptedError, got ${String(error)}`);
    assert.deepEqual(await tableSnapshot(url, ITEMS_TABLE), items);
    assert.equal((await tableSnapshot(url, CHANGES_TABLE)).rows, 0);
  });

  it('GIVEN a changes table partitioned by month without the current month WHEN a cluster exports changes THEN the export fails with HISTORY_PARTITION_MISSING printing the statement, writes nothing; once that statement ran, the export lands in that partition', async () => {
    const url = await freshDatabase();
    const names = tableNames(config);
    await withClient(url, (c) => c.query(ddlText(names, { history: { partitioned: true, months: [{ year: 2001, month: 1 }] } })));
    const first = rowsOf({ cluster: 'c1', count: 300 });
    const second = rowsOf({ cluster: 'c1', count: 300, changedFraction: 0.2, revision: 2 });
    await exportStore(url, await storeOf('c1', first), config);
    const items = await tableSnapshot(url, ITEMS_TABLE);

    const error = await exportStore(url, await storeOf('c1', second), config).then(
      () => undefined,
      (e: unknown) => e,
    );

    assert.ok(error instanceof SinkError, String(error));
    assert.equal(error.code, 'HISTORY_PARTITION_MISSING');
    const month = new Date().toISOString().slice(0, 7);
    assert.equal(error.data.month, month);
    assert.match(error.message, /nothing was written/);
    assert.ok(error.message.includes(String(error.data.statement)));
    assert.deepEqual(await tableSnapshot(url, ITEMS_TABLE), items);
    assert.equal((await tableSnapshot(url, CHANGES_TABLE)).rows, 0);

    await withClient(url, (c) => c.query(String(error.data.statement)));
    await exportStore(url, await storeOf('c1', second), config);
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(second));
    const partitions = await withClient(url, async (c) =>
      (await c.query(`SELECT DISTINCT tableoid::regclass::text AS partition FROM ${CHANGES_TABLE}`)).rows.map((r) => r.partition),
    );
    assert.deepEqual(partitions, [`kollect_changes_${month.replace('-', '_')}`]);
    assert.deepEqual(await changesOf(url, 'c1'), expectedChanges(first, second));
  });
});
