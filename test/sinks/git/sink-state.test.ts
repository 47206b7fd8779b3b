import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { changeSummary, rowDelta } from '../../../src/sinks/git/git-sink.js';
import { renderShardDocument } from '../../../src/sinks/shard-document.js';
import { loadState, payloadFingerprint, saveState, statePath } from '../../../src/sinks/git/sink-state.js';
import { tempDir } from '../../support/store-fixture.js';
import { store } from './git-fixture.js';

describe('git sink state', () => {
  it('GIVEN two stores WHEN fingerprinting THEN equal rows give equal fingerprints; rows, template and incomplete types change it', async () => {
    const template = 'clusters/{cluster}/namespaces/{namespace}.json';
    const base = payloadFingerprint(await store({ cluster: 'c1' }), template);
    const cases: Array<[string, string, boolean]> = [
      ['same rows, other store', payloadFingerprint(await store({ cluster: 'c1' }), template), true],
      ['one namespace changed', payloadFingerprint(await store({ cluster: 'c1', changeNamespaces: ['ns-001'] }), template), false],
      ['other path template', payloadFingerprint(await store({ cluster: 'c1' }), 'inv/{cluster}/{namespace}.json'), false],
      ['a type incomplete', payloadFingerprint(await store({ cluster: 'c1' }, { incomplete: { configmaps: 'forbidden' } }), template), false],
      ['other cluster', payloadFingerprint(await store({ cluster: 'c2' }), template), false],
    ];
    for (const [name, fingerprint, equal] of cases) assert.equal(fingerprint === base, equal, name);
  });

  it('GIVEN no, garbage or a saved state WHEN loading THEN empty, empty, or what was saved', async () => {
    const dir = await tempDir('kollect-state-');
    assert.deepEqual(await loadState(dir), { version: 1, refs: {} });
    await writeFile(statePath(dir), '{not json');
    assert.deepEqual(await loadState(dir), { version: 1, refs: {} });
    const state = { version: 1, mirrorCommits: 3, refs: { main: { url: 'http://x/r.git', cluster: 'c1', fingerprint: 'ab', exportedAt: '2026-01-01T00:00:00.000Z', commit: null, shards: {} } } };
    await saveState(join(dir, 'nested'), state);
    assert.deepEqual(await loadState(join(dir, 'nested')), state);
  });

  it('GIVEN file and row changes WHEN summarising THEN a commit message line with shards and rows changed', () => {
    assert.equal(
      changeSummary('c1', { added: 0, changed: 2, unchanged: 9, removed: 1 }, { added: 3, updated: 40, removed: 12 }, 14201),
      'cluster c1: 3 shards changed (2 updated, 1 removed), 55 rows changed (3 added, 40 updated, 12 removed), 14,201 rows in all',
    );
    assert.equal(changeSummary('c1', { added: 1, changed: 0, unchanged: 0, removed: 0 }, { added: 1, updated: 0, removed: 0 }, 1), 'cluster c1: 1 shard changed (1 added), 1 row changed (1 added), 1 row in all');
  });

  it('GIVEN two versions of a shard file WHEN diffing rows THEN added, updated and removed rows by identity', () => {
    const row = (name: string, phase: string) => ({ name, uid: `u-${name}`, apiGroup: '', apiVersion: 'v1', kind: 'Pod', resource: 'pods', labels: {}, attributes: { phase }, createdAt: '2026-01-01T00:00:00Z', checksum: phase });
    const before = renderShardDocument('c1', 'ns-1', [row('a', 'Running'), row('b', 'Running'), row('c', 'Running')]);
    const after = renderShardDocument('c1', 'ns-1', [row('a', 'Running'), row('b', 'Failed'), row('d', 'Running')]);
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
