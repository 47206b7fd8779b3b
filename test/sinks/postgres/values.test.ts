import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { rowChecksum } from '../../../src/rows/project.js';
import type { Row } from '../../../src/rows/row.js';
import type { SinkError } from '../../../src/errors.js';
import { createPostgresSink } from '../../../src/sinks/postgres/postgres-sink.js';
import { dropTestDatabases, freshDatabase, initTables, ITEMS_TABLE, sinkDeps, tableSnapshot, testContext, testSinkConfig, withClient } from '../../support/postgres.js';
import { storeOf, syntheticRows } from '../../support/store-fixture.js';

/** Values that COPY text format, JSON or SQL could get wrong. */
const AWKWARD = [
  'tab\there',
  'new\nline',
  'carriage\rreturn',
  'back\\slash',
  'trailing backslash\\',
  '\\.',
  'before\n\\.\nafter',
  '\\N',
  "single'quote",
  'double"quote',
  "x'); DROP TABLE kollect_items; --",
  '$$ || pg_sleep(10) || $$',
  'ünïcödé 中文 😀 \u200b',
  '',
];

describe('postgres sink: values', () => {
  after(dropTestDatabases);

  it('GIVEN a row with a NUL character in its name WHEN exported THEN the export fails saying so, and nothing is written (PostgreSQL text cannot hold NUL)', async () => {
    const url = await freshDatabase();
    const config = testSinkConfig();
    await initTables(url, config);
    const rows = [...syntheticRows({ cluster: 'c1', count: 3 })];
    const store = await storeOf('c1', [...rows.slice(0, 2), { ...rows[2]!, name: 'nul\0inside' }]);
    const sink = createPostgresSink(config, sinkDeps(url));
    try {
      await assert.rejects(sink.apply(store, testContext()), (error: SinkError) => error.code === 'SINK_FAILED' && /NUL character/.test(error.message) && /rolled back/.test(error.message));
    } finally {
      await sink.close();
    }
    assert.equal((await tableSnapshot(url, ITEMS_TABLE)).rows, 0);
  });

  it('GIVEN names, labels and attributes full of tabs, newlines, backslashes, quotes, \\. and SQL WHEN exported THEN they come back byte for byte, and a second plan sees them unchanged', async () => {
    const url = await freshDatabase();
    const config = testSinkConfig();
    await initTables(url, config);
    const template = [...syntheticRows({ cluster: 'c1', count: AWKWARD.length })];
    const rows: Row[] = AWKWARD.map((value, i) => {
      const row: Row = {
        ...template[i]!,
        name: `${i}:${value}`,
        labels: { [`key ${value}`]: value, plain: value },
        attributes: { value, nested: { list: [value, 1, null, true], [value]: value } },
      };
      return { ...row, checksum: rowChecksum(row) };
    });
    const store = await storeOf('c1', rows);
    const sink = createPostgresSink(config, sinkDeps(url));

    const result = await sink.apply(store, testContext());
    const again = await sink.plan(store, testContext());
    await sink.close();

    assert.equal(result.totals.added, rows.length);
    assert.deepEqual(again.totals, { added: 0, changed: 0, unchanged: rows.length, removed: 0 });
    const stored = await withClient(url, async (c) => (await c.query<{ name: string; labels: unknown; attributes: unknown; checksum: string }>('SELECT name, labels, attributes, checksum FROM kollect_items')).rows);
    const byName = new Map(stored.map((r) => [r.name, r]));
    for (const row of rows) {
      const back = byName.get(row.name);
      assert.ok(back, `row ${JSON.stringify(row.name)} is missing; stored: ${JSON.stringify([...byName.keys()])}`);
      assert.ok(Buffer.from(back.name).equals(Buffer.from(row.name)));
      assert.deepEqual(back.labels, row.labels);
      assert.deepEqual(back.attributes, row.attributes);
      assert.equal(back.checksum, row.checksum);
    }
  });
});
