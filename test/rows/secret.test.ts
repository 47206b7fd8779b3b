import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageWork } from '../../src/collect/list-rows.js';
import type { Profile } from '../../src/rows/profiles/profile.js';
import { LAST_APPLIED_ANNOTATION, secretDataReadBy } from '../../src/rows/profiles/secret.js';
import { createProjector } from '../../src/rows/project.js';
import { parseSpoolLine } from '../../src/store/spool-line.js';

const SECRET = { group: '', version: 'v1', resource: 'secrets', kind: 'Secret', namespaced: true };
const APPLIED = '{"data":{"password":"c2VjcmV0"}}';

/** A Secret as a hostile or careless server may list it: data, and kubectl's annotation under both maps. */
function leakySecret(): Record<string, unknown> {
  return {
    metadata: {
      name: 'db',
      namespace: 'shop',
      uid: 'u-1',
      labels: { app: 'db', [LAST_APPLIED_ANNOTATION]: 'x' },
      annotations: { [LAST_APPLIED_ANNOTATION]: APPLIED, 'example.com/owner': 'team-a' },
    },
    data: { password: 'c2VjcmV0' },
  };
}

/** A profile config validation would refuse, as a library caller could still pass it. */
const LEAKY: Profile = {
  name: 'leaky',
  attributes: { notes: 'metadata.annotations', applied: `metadata.annotations["${LAST_APPLIED_ANNOTATION}"]`, password: 'data.password' },
};

describe('Secret rows never carry Secret data, whatever the profile', () => {
  it('GIVEN a leaky profile WHEN a Secret is projected (createProjector) THEN other annotations stay, the last-applied one, its label twin and data do not', () => {
    const row = createProjector('c1', SECRET, LEAKY)(leakySecret());
    assert.deepEqual(row.attributes, { notes: { 'example.com/owner': 'team-a' } });
    assert.deepEqual(row.labels, { app: 'db' });
  });

  it('GIVEN the same WHEN a page is encoded for the spool (pageWork, as on a list worker) THEN the same row', () => {
    const body = Buffer.from(JSON.stringify({ kind: 'SecretList', apiVersion: 'v1', metadata: {}, items: [leakySecret()] }));
    for (const fastParse of [true, false]) {
      const { page } = pageWork('c1', SECRET, LEAKY, fastParse)({ body, continue: '', what: 'list secrets' });
      const line = Buffer.from(page[0]!.lines).toString('utf8').trimEnd();
      assert.ok(!line.includes('c2VjcmV0') && !line.includes('last-applied'), line);
      const row = parseSpoolLine(line, { cluster: 'c1', namespace: 'shop', type: { apiGroup: '', apiVersion: 'v1', kind: 'Secret', resource: 'secrets' } });
      assert.deepEqual(row.attributes, { notes: { 'example.com/owner': 'team-a' } });
    }
  });

  const paths: Array<[string, string | undefined]> = [
    [`metadata.annotations["${LAST_APPLIED_ANNOTATION}"]`, `metadata.annotations["${LAST_APPLIED_ANNOTATION}"]`],
    ['metadata.annotations', `metadata.annotations["${LAST_APPLIED_ANNOTATION}"]`],
    ['metadata["annotations"]', `metadata.annotations["${LAST_APPLIED_ANNOTATION}"]`],
    ['metadata', `metadata.annotations["${LAST_APPLIED_ANNOTATION}"]`],
    ['data', 'data'],
    ['data.password', 'data'],
    ['stringData.token', 'stringData'],
    ['metadata.annotations["example.com/owner"]', undefined],
    ['metadata.labels', undefined],
    ['metadata.managedFields[*].manager', undefined],
    ['type', undefined],
  ];
  for (const [path, field] of paths) {
    it(`GIVEN the attribute path ${path} THEN it reads ${field ?? 'no Secret data'}`, () => {
      assert.equal(secretDataReadBy(path), field);
    });
  }
});
