import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { payloadFingerprint } from '../../../src/sinks/document/skip-decision.js';
import { loadState, saveState, statePath } from '../../../src/sinks/git/sink-state.js';
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
    const state = {
      version: 1,
      mirrorCommits: 3,
      refs: { main: { url: 'http://x/r.git', cluster: 'c1', fingerprint: 'ab', exportedAt: '2026-01-01T00:00:00.000Z', commit: null, shards: {} } },
    };
    await saveState(join(dir, 'nested'), state);
    assert.deepEqual(await loadState(join(dir, 'nested')), state);
  });
});
