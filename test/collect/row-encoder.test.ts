import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageWork } from '../../src/collect/list-rows.js';
import { createPageEncoder } from '../../src/collect/row-encoder.js';
import { discover } from '../../src/kube/discovery.js';
import { parsePage } from '../../src/kube/page/parse-page.js';
import { listBodies } from '../../src/kube/pager.js';
import type { Profile } from '../../src/rows/profiles/profile.js';
import { resolveProfile } from '../../src/rows/profiles/registry.js';
import type { KubeObject, ProjectedType } from '../../src/rows/project.js';
import { startSimClient } from '../support/sim-pages.js';
import { pageText as text, referencePage as reference } from '../support/encoded-pages.js';
import { parseListBody } from '../support/list-pages.js';

const POD: ProjectedType = { group: '', version: 'v1', resource: 'pods', kind: 'Pod' };
const custom: Profile = {
  name: 'custom',
  attributes: {
    containers: 'spec.containers[*]',
    first: 'spec.containers[0]',
    replicas: 'spec.replicas',
    owner: 'metadata.annotations["a/b"]',
    zz: 'status.conditions',
  },
};

describe('the collect encoder writes the spool lines, checksums and JSON sizes of createProjector + spoolLineOf', () => {
  const cases: Array<[string, KubeObject]> = [
    [
      'sorted labels',
      { metadata: { name: 'a', namespace: 'ns', uid: 'u', labels: { app: 'x', tier: 'y' }, creationTimestamp: '2024-01-01T00:00:00Z', resourceVersion: '1' } },
    ],
    ['unsorted labels', { metadata: { name: 'a', namespace: 'ns', uid: 'u', labels: { tier: 'y', app: 'x', 'pod-template-hash': 'h' } } }],
    ['integer-like label keys', { metadata: { name: 'a', namespace: 'ns', uid: 'u', labels: { b: '1', '10': 'x', '9': 'y', a: '2' } } }],
    ['no metadata at all', {}],
    ['cluster-scoped, no labels', { metadata: { name: 'n1', uid: 'u' } }],
    ['non-ASCII and escapes', { metadata: { name: 'ünï-"q"\\', namespace: 'ns', uid: 'u', labels: { é: 'ß\n' } }, spec: { replicas: '👩‍🚀\u2028' } }],
    // Every string field through the encoder's quick quoting (jsonOf): control characters, a surrogate pair. (The API server
    // never sends a lone surrogate: Go's JSON decoding makes it U+FFFD.)
    [
      'control characters and surrogate pairs',
      { metadata: { name: 'a\u0001b\u001f', namespace: 'n\u0002s', uid: 'u😀', resourceVersion: '7\t', creationTimestamp: '2024\u2028😀' } },
    ],
    ['a name that is not a string', { metadata: { name: 42 as unknown as string, namespace: 'ns', uid: 'u' } }],
    [
      'nested objects with unsorted keys',
      {
        metadata: { name: 'a', namespace: 'ns', uid: 'u' },
        spec: { replicas: 0, containers: [{ name: 'c', image: 'i', ports: [{ port: 80, name: 'http' }] }, { image: 'j' }] },
        status: { conditions: [{ type: 'Ready', status: 'True' }] },
      },
    ],
    [
      'null and false values',
      { metadata: { name: 'a', namespace: 'ns', uid: 'u', labels: {} }, spec: { replicas: null, containers: [] }, status: { conditions: false } },
    ],
  ];
  for (const [what, object] of cases) {
    it(`GIVEN ${what} THEN the same line and checksum`, () => {
      for (const profile of [resolveProfile({ group: '', resource: 'pods' }, {}), custom]) {
        const expected = text(reference('c1', POD, profile, [object]));
        assert.deepEqual(text(createPageEncoder('c1', POD, profile)([object])), expected);
        // The promise ParsedPage.plainStrings makes holds when the object's JSON has no backslash.
        if (!JSON.stringify(object).includes('\\')) assert.deepEqual(text(createPageEncoder('c1', POD, profile)([object], true)), expected, 'plain strings');
      }
    });
  }

  it('GIVEN every type the local API server serves THEN every page encodes exactly as before, full and metadata-only, as the list worker does too', async () => {
    const { client, close } = await startSimClient({ objects: 3_000, seed: 11 });
    try {
      const deps = { sleep: async () => undefined, random: () => 0.5, signal: new AbortController().signal };
      const configured = ['namespaces', 'nodes', 'pods', 'services', 'configmaps', 'secrets'].map((resource) => ({ group: '', version: 'v1', resource }));
      const { types } = await discover(
        client,
        { resources: [...configured, { group: 'apps', version: 'v1', resource: 'deployments' }, { group: 'example.com', version: 'v1', resource: 'widgets' }] },
        { retries: 0, timeout: 5_000 },
        deps,
      );
      let rows = 0;
      let plainPages = 0;
      for (const type of types) {
        for (const metadataOnly of [false, true]) {
          const profile = type.resource === 'widgets' ? custom : resolveProfile(type, {});
          const work = pageWork('c1', type, profile, true);
          const plainWork = pageWork('c1', type, profile, false);
          for await (const event of listBodies(client, type, { pageSize: 400, retries: 0, relists: 0, timeout: 5_000, metadataOnly, fastParse: true }, deps)) {
            if (event.kind !== 'body') continue;
            const items = parseListBody(event);
            const expected = text(reference('c1', type, profile, items));
            assert.deepEqual(text(createPageEncoder('c1', type, profile)(items)), expected);
            // The list worker's path: managedFields cut from metadata-only pages, plain strings untested.
            assert.deepEqual(text(work(event).page), expected);
            assert.deepEqual(text(plainWork(event).page), expected, 'list.fastParse false');
            if (metadataOnly && parsePage(event, { fastParse: true, withoutManagedFields: true }).plainStrings) plainPages++;
            rows += items.length;
          }
        }
      }
      assert.ok(rows > 5_000, `${rows} rows compared`);
      assert.ok(plainPages > 5, `${plainPages} metadata-only pages of plain strings`);
    } finally {
      await close();
    }
  });
});
