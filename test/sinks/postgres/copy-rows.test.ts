import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Row } from '../../../src/rows/row.js';
import { copyChunks, STAGING_COLUMNS } from '../../../src/sinks/postgres/copy-rows.js';
import { copyField } from '../../../src/store/spool-line.js';
import { collectAll, storeOf, syntheticRows } from '../../support/store-fixture.js';

/** Each staged column's COPY field of a row, in STAGING_COLUMNS order: what a line must hold. */
function expectedFields(row: Row): string[] {
  const values: Record<keyof typeof STAGING_COLUMNS, string | null> = {
    name: row.name,
    uid: row.uid,
    labels: JSON.stringify(row.labels),
    attributes: JSON.stringify(row.attributes),
    checksum: row.checksum,
    resource_version: row.resourceVersion,
    created_at: row.createdAt,
    namespace: row.namespace,
    api_group: row.apiGroup,
    api_version: row.apiVersion,
    kind: row.kind,
    resource: row.resource,
  };
  return Object.keys(STAGING_COLUMNS).map((column) => copyField(values[column as keyof typeof STAGING_COLUMNS]));
}

describe('postgres sink: the COPY text of a store', () => {
  it('GIVEN a store of several types and shards, awkward values among them WHEN read as COPY text THEN every row is one line of its fields, then the constants', async () => {
    const rows = [...syntheticRows({ cluster: 'c1', count: 60, namespaces: 3 })].map((row, i) =>
      i % 5 === 0 ? { ...row, name: `tab\t${i}`, labels: { note: 'back\\slash "q"' }, attributes: { v: 'new\nline \\. \\N' }, createdAt: null } : row,
    );
    const store = await storeOf('c1', rows);
    const constants = ['c1', '2026-12-01T00:00:00.000Z', '$1 $$ $& a\\b'];

    const text = (await collectAll(copyChunks(store, { constants }))).join('');

    assert.ok(text.endsWith('\n'));
    const lines = text.slice(0, -1).split('\n');
    const expected = new Set(rows.map((row) => [...expectedFields(row), ...constants.map(copyField)].join('\t')));
    assert.equal(lines.length, rows.length);
    for (const line of lines) assert.ok(expected.has(line), `unexpected line ${JSON.stringify(line)}`);
    assert.equal(new Set(lines).size, rows.length);
  });
});
