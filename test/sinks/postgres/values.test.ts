import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { rowChecksum } from '../../../src/rows/project.js';
import type { Row } from '../../../src/rows/row.js';
import { copyField, CopyEncodingError } from '../../../src/sinks/postgres/copy-rows.js';
import { createPostgresSink } from '../../../src/sinks/postgres/postgres-sink.js';
import { dropTestDatabases, freshDatabase, initTables, sinkDeps, testContext, testSinkConfig, withClient } from '../../support/postgres.js';
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

  const fields: Array<[string | null, string]> = [
    [null, '\\N'],
    ['plain', 'plain'],
    ['a\tb', 'a\\tb'],
    ['a\nb', 'a\\nb'],
    ['a\rb', 'a\\rb'],
    ['a\\b', 'a\\\\b'],
    ['\\.', '\\\\.'],
    ['\\N', '\\\\N'],
    ['', ''],
  ];
  for (const [value, encoded] of fields) {
    it(`GIVEN ${JSON.stringify(value)} WHEN encoded as a COPY text field THEN it is ${JSON.stringify(encoded)}`, () => {
      assert.equal(copyField(value), encoded);
    });
  }

  it('GIVEN a value with a NUL character WHEN encoded THEN CopyEncodingError (PostgreSQL text cannot hold it)', () => {
    assert.throws(() => copyField('a\0b'), CopyEncodingError);
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
