import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { buildShardReport } from '../../src/shards/shard-report.js';
import { shardStatus, statusReason } from '../../src/shards/shard-status.js';

const config = validateConfig({ cluster: 'c1' });
const t = config.shards;

describe('shard thresholds', () => {
  const cases: Array<[number, number, string]> = [
    [0, 0, 'ok'],
    [1799, 1000, 'ok'],
    [1800, 1000, 'warn'],
    [2000, 1000, 'warn'],
    [2001, 1000, 'over'],
    [2500, 1000, 'over'],
    [2501, 1000, 'too-large'],
    [10, t.warnBytes, 'warn'],
    [10, t.maxBytes + 1, 'too-large'],
  ];
  for (const [rows, bytes, status] of cases) {
    it(`GIVEN ${rows} rows and ${bytes} bytes THEN ${status}`, () => assert.equal(shardStatus(rows, bytes, t), status));
  }

  const reasons: Array<[number, number, string]> = [
    [10, 1000, ''],
    [1800, 1000, '1,800 rows (warn at 1,800)'],
    [10, t.warnBytes, '1.20 MiB (warn at 1.20 MiB)'],
    [1900, t.warnBytes, '1,900 rows (warn at 1,800) and 1.20 MiB (warn at 1.20 MiB)'],
    [2001, t.warnBytes, '2,001 rows (target 2,000)'],
    [10, t.maxBytes + 1, '1.50 MiB (PayloadTooLarge above 1.50 MiB)'],
    [2501, 1000, '2,501 rows (PayloadTooLarge above 2,500)'],
  ];
  for (const [rows, bytes, reason] of reasons) {
    it(`GIVEN ${rows} rows and ${bytes} bytes THEN the reason is "${reason}"`, () => assert.equal(statusReason(rows, bytes, t), reason));
  }

  it('GIVEN a report THEN shards sort largest first and failing lists those at failOn', () => {
    const sizes = [
      { key: 'a', rows: 10, bytes: 1 },
      { key: 'b', rows: 1900, bytes: 1 },
      { key: 'c', rows: 2600, bytes: 1 },
    ];
    const over = buildShardReport({ source: 's', cluster: 'c1', sizes, thresholds: t, failOn: 'over' });
    assert.deepEqual(
      over.shards.map((s) => s.key),
      ['c', 'b', 'a'],
    );
    assert.deepEqual(over.failing, ['c']);
    assert.deepEqual(buildShardReport({ source: 's', cluster: 'c1', sizes, thresholds: t, failOn: 'warn' }).failing, ['c', 'b']);
    assert.deepEqual(over.byStatus, { ok: 1, warn: 1, over: 0, 'too-large': 1 });
  });
});
