import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { rowChecksum } from '../../../src/rows/project.js';
import type { Row } from '../../../src/rows/row.js';
import { createPostgresSink, type PostgresSinkResult } from '../../../src/sinks/postgres/postgres-sink.js';
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

  it('GIVEN NUL in a name, a label key and value and nested attributes WHEN exported THEN each is stored with U+FFFD, counted and named; a later export that stages the shard leaves those rows unchanged', async () => {
    const url = await freshDatabase();
    const config = testSinkConfig();
    await initTables(url, config);
    const template = [...syntheticRows({ cluster: 'c1', count: 8, namespaces: 1 })].filter((r) => r.namespace !== '');
    const withNul = (row: Row, changes: Partial<Row>): Row => {
      const changed = { ...row, ...changes };
      return { ...changed, checksum: rowChecksum(changed) };
    };
    const rows = [
      withNul(template[0]!, { name: 'nul\0name' }),
      withNul(template[1]!, { labels: { 'key\0': 'value\0\0value', plain: 'plain' } }),
      withNul(template[2]!, { attributes: { 'x/note': 'a\0b', list: ['ok', 'c\0'], nested: { deep: '\0' }, backslash: '\\u0000 is not a NUL' } }),
      ...template.slice(3),
    ];
    const sink = createPostgresSink(config, sinkDeps(url));
    try {
      // WHEN exported
      const first = (await sink.apply(await storeOf('c1', rows), testContext())) as PostgresSinkResult;
      // and again, with another row of the same shard changed, so the shard is staged and diffed
      const changedOther = rows.map((r, i) => (i === rows.length - 1 ? withNul(r, { labels: { rev: '2' } }) : r));
      const second = (await sink.apply(await storeOf('c1', changedOther), testContext())) as PostgresSinkResult;

      // THEN the first export replaced six values and named the first five
      assert.equal(first.totals.added, rows.length);
      assert.equal(first.replaced.count, 6);
      assert.deepEqual(
        first.replaced.first.map((v) => `${v.namespace}/${v.name} ${v.kind} ${v.field}`),
        [
          `${rows[0]!.namespace}/nul\0name Pod name`,
          `${rows[1]!.namespace}/${rows[1]!.name} ConfigMap labels["key\\u0000"]`,
          `${rows[1]!.namespace}/${rows[1]!.name} ConfigMap labels["key\\u0000"]`,
          // attributes in the store's order: canonical JSON, keys sorted (list, nested, x/note)
          `${rows[2]!.namespace}/${rows[2]!.name} Deployment attributes.list[1]`,
          `${rows[2]!.namespace}/${rows[2]!.name} Deployment attributes.nested.deep`,
        ],
      );
      // the second export updated only the changed row, and replaced again only what it staged
      assert.deepEqual(second.totals, { added: 0, changed: 1, unchanged: rows.length - 1, removed: 0 });
      assert.equal(second.replaced.count, 6);
    } finally {
      await sink.close();
    }
    const stored = await withClient(
      url,
      async (c) =>
        (await c.query<{ name: string; labels: unknown; attributes: unknown }>('SELECT name, labels, attributes FROM kollect_items ORDER BY name')).rows,
    );
    const byName = new Map(stored.map((r) => [r.name, r]));
    assert.ok(byName.has('nul\uFFFDname'), JSON.stringify([...byName.keys()]));
    assert.deepEqual(byName.get(rows[1]!.name)?.labels, { 'key\uFFFD': 'value\uFFFD\uFFFDvalue', plain: 'plain' });
    assert.deepEqual(byName.get(rows[2]!.name)?.attributes, {
      'x/note': 'a\uFFFDb',
      list: ['ok', 'c\uFFFD'],
      nested: { deep: '\uFFFD' },
      backslash: '\\u0000 is not a NUL',
    });
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
    const stored = await withClient(
      url,
      async (c) =>
        (
          await c.query<{ name: string; labels: unknown; attributes: unknown; checksum: string }>(
            'SELECT name, labels, attributes, checksum FROM kollect_items',
          )
        ).rows,
    );
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
