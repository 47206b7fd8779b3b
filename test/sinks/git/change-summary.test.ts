import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { changeSummary, rowDelta } from '../../../src/sinks/git/change-summary.js';
import { renderShardDocument } from '../../../src/sinks/document/shard-document.js';

describe('git commit message', () => {
  it('GIVEN file and row changes WHEN summarising THEN a commit message line with shards and rows changed', () => {
    assert.equal(
      changeSummary('c1', { added: 0, changed: 2, unchanged: 9, removed: 1 }, { added: 3, updated: 40, removed: 12 }, 14201),
      'cluster c1: 3 shards changed (2 updated, 1 removed), 55 rows changed (3 added, 40 updated, 12 removed), 14,201 rows in all',
    );
    assert.equal(
      changeSummary('c1', { added: 1, changed: 0, unchanged: 0, removed: 0 }, { added: 1, updated: 0, removed: 0 }, 1),
      'cluster c1: 1 shard changed (1 added), 1 row changed (1 added), 1 row in all',
    );
  });

  it('GIVEN two versions of a shard file WHEN diffing rows THEN added, updated and removed rows by identity', () => {
    const row = (name: string, phase: string) => ({
      name,
      uid: `u-${name}`,
      apiGroup: '',
      apiVersion: 'v1',
      kind: 'Pod',
      resource: 'pods',
      labels: {},
      attributes: { phase },
      createdAt: '2026-01-01T00:00:00Z',
      checksum: phase,
    });
    const before = renderShardDocument('c1', 'ns-1', [row('a', 'Running'), row('b', 'Running'), row('c', 'Running')]).toString('utf8');
    const after = renderShardDocument('c1', 'ns-1', [row('a', 'Running'), row('b', 'Failed'), row('d', 'Running')]).toString('utf8');
    const cases: Array<[string, string | undefined, string | undefined, { added: number; updated: number; removed: number }]> = [
      ['new file', undefined, after, { added: 3, updated: 0, removed: 0 }],
      ['changed file', before, after, { added: 1, updated: 1, removed: 1 }],
      ['removed file', before, undefined, { added: 0, updated: 0, removed: 3 }],
      ['not a shard document', '# README\n{ not json }\n', after, { added: 3, updated: 0, removed: 0 }],
      ['the same file', after, after, { added: 0, updated: 0, removed: 0 }],
    ];
    for (const [name, a, b, expected] of cases) assert.deepEqual(rowDelta(a, b), expected, name);
  });
});
