import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileAttributePath } from '../../src/rows/attribute-path.js';
import { createProjector } from '../../src/rows/project.js';
import { podProfile } from '../../src/rows/profiles/pod.js';
import { resolveProfile } from '../../src/rows/profiles/registry.js';
import { isMetadataOnly } from '../../src/rows/profiles/profile.js';

const pod = {
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: {
    name: 'web-1',
    namespace: 'shop',
    uid: 'u-1',
    labels: { app: 'web' },
    resourceVersion: '100',
    creationTimestamp: '2026-01-01T00:00:00Z',
    managedFields: [{ manager: 'kubectl', time: '2026-01-01T00:00:00Z' }],
    ownerReferences: [{ kind: 'ReplicaSet', name: 'web-abc' }],
  },
  spec: { nodeName: 'n1', containers: [{ image: 'nginx:1' }, { image: 'sidecar:2' }] },
  status: { phase: 'Running' },
};

describe('projection', () => {
  const project = createProjector('c1', { group: '', version: 'v1', resource: 'pods', kind: 'Pod' }, podProfile);

  it('GIVEN a pod THEN the row carries identity, labels and the profile attributes', () => {
    const row = project(pod);
    assert.deepEqual(
      { cluster: row.cluster, namespace: row.namespace, name: row.name, uid: row.uid, kind: row.kind, apiGroup: row.apiGroup },
      { cluster: 'c1', namespace: 'shop', name: 'web-1', uid: 'u-1', kind: 'Pod', apiGroup: '' },
    );
    assert.deepEqual(row.labels, { app: 'web' });
    assert.equal(row.attributes.phase, 'Running');
    assert.deepEqual(row.attributes.images, ['nginx:1', 'sidecar:2']);
    assert.equal(row.attributes.ownerKind, 'ReplicaSet');
    assert.equal('managedFields' in row.attributes, false);
    assert.match(row.checksum, /^[0-9a-f]{32}$/);
  });

  it('GIVEN only resourceVersion and managedFields change THEN the checksum stays', () => {
    const changed = { ...pod, metadata: { ...pod.metadata, resourceVersion: '999', managedFields: [] } };
    assert.equal(project(changed).checksum, project(pod).checksum);
  });

  it('GIVEN a kept field changes THEN the checksum changes', () => {
    assert.notEqual(project({ ...pod, status: { phase: 'Failed' } }).checksum, project(pod).checksum);
    assert.notEqual(project({ ...pod, metadata: { ...pod.metadata, labels: { app: 'api' } } }).checksum, project(pod).checksum);
  });

  it('GIVEN key order differs THEN the checksum is the same', () => {
    const reordered = { status: pod.status, spec: pod.spec, metadata: { ...pod.metadata, labels: { app: 'web' } } };
    assert.equal(project(reordered).checksum, project(pod).checksum);
  });

  const paths: Array<[string, unknown]> = [
    ['spec.nodeName', 'n1'],
    ['spec.containers[1].image', 'sidecar:2'],
    ['spec.containers[*].image', ['nginx:1', 'sidecar:2']],
    ['metadata.labels["app"]', 'web'],
    ['spec.missing.deep', undefined],
    ['spec.containers[5].image', undefined],
  ];
  for (const [path, expected] of paths) {
    it(`GIVEN path ${path} THEN it reads ${JSON.stringify(expected)}`, () => {
      assert.deepEqual(compileAttributePath(path)(pod), expected);
    });
  }

  it('GIVEN secrets with any profile THEN only metadata is requested', () => {
    const profile = resolveProfile({ group: '', resource: 'secrets', profile: 'leaky' }, { leaky: { attributes: { data: 'data.password' } } });
    assert.equal(isMetadataOnly(profile), true);
  });

  const defaults: Array<[{ group: string; resource: string }, string]> = [
    [{ group: '', resource: 'pods' }, 'pod'],
    [{ group: 'apps', resource: 'deployments' }, 'deployment'],
    [{ group: '', resource: 'services' }, 'service'],
    [{ group: '', resource: 'nodes' }, 'node'],
    [{ group: '', resource: 'namespaces' }, 'namespace'],
    [{ group: '', resource: 'secrets' }, 'secret'],
    [{ group: '', resource: 'configmaps' }, 'metadata'],
    // Same plural, another group: not the built-in kind, so metadata only.
    [{ group: 'example.com', resource: 'deployments' }, 'metadata'],
  ];
  for (const [type, expected] of defaults) {
    it(`GIVEN ${type.group ? `${type.resource}.${type.group}` : type.resource} without a profile THEN the ${expected} profile`, () => {
      assert.equal(resolveProfile(type, {}).name, expected);
    });
  }

  it('GIVEN a profile reading only metadata THEN it is metadata-only; a pod profile is not', () => {
    assert.equal(isMetadataOnly(resolveProfile({ group: '', resource: 'configmaps' }, {})), true);
    assert.equal(isMetadataOnly(podProfile), false);
  });
});
