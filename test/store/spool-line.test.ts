import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Row } from '../../src/rows/row.js';
import { canonicalJson } from '../../src/rows/checksum.js';
import {
  copyField,
  copyFieldValue,
  jsonLineChars,
  parseSpoolLine,
  SPOOL_COLUMNS,
  SpoolLineError,
  spoolLineOf,
  type SegmentContext,
} from '../../src/store/spool-line.js';
import { syntheticRows } from '../support/store-fixture.js';

/** Values that COPY text format or JSON could get wrong. */
const AWKWARD = [
  'tab\there',
  'new\nline',
  'carriage\rreturn',
  'back\\slash',
  'trailing backslash\\',
  '\\.',
  'before\n\\.\nafter',
  '\\N',
  'nul\0inside',
  'double"quote',
  'ünïcödé 中文 😀 \u200b',
  '',
];

const TEMPLATE = [...syntheticRows({ cluster: 'c1', count: 1 })][0]!;
const segmentOf = (row: Row): SegmentContext => ({ cluster: row.cluster, namespace: row.namespace, type: row });

describe('spool lines', () => {
  const fields: Array<[string | null, string]> = [
    [null, '\\N'],
    ['plain', 'plain'],
    ['a\tb', 'a\\tb'],
    ['a\nb', 'a\\nb'],
    ['a\rb', 'a\\rb'],
    ['a\\b', 'a\\\\b'],
    ['\\.', '\\\\.'],
    ['\\N', '\\\\N'],
    ['a\0b', 'a\\000b'],
    ['', ''],
  ];
  for (const [value, encoded] of fields) {
    it(`GIVEN ${JSON.stringify(value)} WHEN encoded as a COPY text field THEN it is ${JSON.stringify(encoded)}`, () => {
      assert.equal(copyField(value), encoded);
    });
  }

  for (const value of AWKWARD) {
    it(`GIVEN a row with ${JSON.stringify(value)} in every field WHEN spooled and read back THEN it is the same row, and the line has one field per column`, () => {
      const row: Row = {
        ...TEMPLATE,
        name: `n:${value}`,
        uid: `u:${value}`,
        labels: { [`key ${value}`]: value, plain: value },
        attributes: { value, nested: { list: [value, 1, null, true], [value]: value } },
        resourceVersion: `rv:${value}`,
        checksum: `c:${value}`,
      };
      const line = spoolLineOf(row);
      assert.doesNotMatch(line, /[\n\r\0]/);
      assert.equal(line.split('\t').length, SPOOL_COLUMNS.length);
      assert.deepEqual(parseSpoolLine(line, segmentOf(row)), row);
      assert.deepEqual(Object.keys(parseSpoolLine(line, segmentOf(row))), Object.keys(row), 'keys in Row order');
    });
  }

  it('GIVEN labels and attributes with keys out of order WHEN spooled THEN the line holds their canonical JSON (kollect.store/v5), which documents copy', () => {
    const row: Row = { ...TEMPLATE, labels: { b: '1', a: '2', '10': '3' }, attributes: { z: { y: 1, x: [{ d: 1, c: 2 }] }, a: 'q"\\' } };
    const [, , labels, attributes] = spoolLineOf(row).split('\t').map(copyFieldValue);
    assert.equal(labels, canonicalJson(row.labels));
    assert.equal(attributes, canonicalJson(row.attributes));
    assert.equal(labels, '{"10":"3","a":"2","b":"1"}');
  });

  it('GIVEN a row without a creation time WHEN spooled and read back THEN createdAt is null, not the text \\N', () => {
    const row: Row = { ...TEMPLATE, createdAt: null };
    assert.equal(parseSpoolLine(spoolLineOf(row), segmentOf(row)).createdAt, null);
    assert.equal(parseSpoolLine(spoolLineOf({ ...row, createdAt: '\\N' }), segmentOf(row)).createdAt, '\\N');
  });

  it("GIVEN a row WHEN its JSON line's length is taken THEN it is the length of that line as a sink writes it, newline included", () => {
    const row: Row = {
      cluster: 'c1',
      namespace: 'ns',
      name: 'ü',
      uid: 'u',
      apiGroup: '',
      apiVersion: 'v1',
      kind: 'Pod',
      resource: 'pods',
      labels: { a: 'b' },
      attributes: {},
      createdAt: null,
      resourceVersion: '7',
      checksum: 'c',
    };
    const line =
      '{"cluster":"c1","namespace":"ns","name":"ü","uid":"u","apiGroup":"","apiVersion":"v1","kind":"Pod","resource":"pods","labels":{"a":"b"},"attributes":{},"createdAt":null,"resourceVersion":"7","checksum":"c"}\n';
    assert.equal(jsonLineChars(row), line.length);
  });

  const broken: Array<[string, string]> = [
    ['too few fields', 'a\tb\t{}'],
    ['too many fields', `${spoolLineOf(TEMPLATE)}\textra`],
    ['\\N for a name', spoolLineOf(TEMPLATE).replace(/^[^\t]*/, '\\N')],
  ];
  for (const [what, line] of broken) {
    it(`GIVEN ${what} WHEN read THEN SpoolLineError`, () => {
      assert.throws(() => parseSpoolLine(line, segmentOf(TEMPLATE)), SpoolLineError);
    });
  }
});
