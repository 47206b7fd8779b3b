import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateConfig } from '../../src/config/load.js';
import { kubeManifestShardSizes, pluralOf } from '../../src/shards/kube-manifest-sizes.js';
import { tempDir } from '../support/store-fixture.js';

const config = validateConfig({ cluster: 'c1' });

describe('shard sizes from Kubernetes manifests', () => {
  it('GIVEN multi-document YAML, JSON and a List THEN configured kinds are counted per namespace', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'apps'), { recursive: true });
    const pods = Array.from(
      { length: 30 },
      (_, i) => `apiVersion: v1\nkind: Pod\nmetadata:\n  name: p${i}\n  namespace: shop\nspec:\n  containers: [{name: c, image: nginx}]\n`,
    ).join('---\n');
    await writeFile(join(dir, 'apps', 'pods.yaml'), pods);
    await writeFile(
      join(dir, 'apps', 'deploy.json'),
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'List',
        items: [
          { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd1', namespace: 'shop' } },
          { apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'd2' } },
        ],
      }),
    );
    await writeFile(
      join(dir, 'ns.yml'),
      'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: shop\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata:\n  name: ignored\n  namespace: shop\n',
    );
    await writeFile(join(dir, 'README.md'), '# not a manifest');
    const { sizes } = await kubeManifestShardSizes([dir], config);
    const byKey = Object.fromEntries(sizes.map((s) => [s.key, s.rows]));
    assert.deepEqual(byKey, { shop: 31, default: 1, _cluster: 1 });
    assert.ok(sizes.every((s) => s.bytes > s.rows * 100));
  });

  it('GIVEN a Pod with only generateName WHEN counted THEN it is a row of the length the server would make (5 characters appended)', async () => {
    const dir = await tempDir();
    const pod = (meta: string) => `apiVersion: v1\nkind: Pod\nmetadata:\n  ${meta}\n  namespace: jobs\n`;
    await writeFile(join(dir, 'named.yaml'), pod('name: migrate-abcde'));
    await writeFile(join(dir, 'generated.yaml'), pod('generateName: migrate-'));

    const named = await kubeManifestShardSizes([join(dir, 'named.yaml')], config);
    const generated = await kubeManifestShardSizes([join(dir, 'generated.yaml')], config);

    assert.deepEqual(generated.sizes, named.sizes);
    assert.deepEqual(generated.warnings, []);
  });

  describe('GIVEN a fleet configuration WHEN manifests are counted THEN only what collect would list is', () => {
    const manifests = async (): Promise<string> => {
      const dir = await tempDir();
      const object = (apiVersion: string, kind: string, name: string, namespace?: string, labels?: Record<string, string>) =>
        JSON.stringify({ apiVersion, kind, metadata: { name, ...(namespace ? { namespace } : {}), ...(labels ? { labels } : {}) } });
      const objects = [
        object('v1', 'Pod', 'web-1', 'team-a', { app: 'web' }),
        object('v1', 'Pod', 'web-canary', 'team-a', { app: 'web', track: 'canary' }),
        object('v1', 'Pod', 'db-1', 'team-sandbox-x', { app: 'db' }),
        object('v1', 'Pod', 'job-1', 'kube-system', { app: 'job' }),
        object('v1', 'Event', 'e1', 'team-a'),
        object('cert-manager.io/v1', 'Certificate', 'tls', 'team-a'),
        object('coordination.k8s.io/v1', 'Lease', 'lock', 'team-a'),
        object('v1', 'Namespace', 'team-a'),
      ];
      await writeFile(join(dir, 'all.yaml'), objects.join('\n---\n'));
      return dir;
    };
    const rowsByShard = async (doc: Record<string, unknown>, overrides: Parameters<typeof validateConfig>[1] = {}) => {
      const { sizes } = await kubeManifestShardSizes([await manifests()], validateConfig({ cluster: 'c1', ...doc }, overrides));
      return Object.fromEntries(sizes.map((s) => [s.key, s.rows]));
    };
    const everything = { resources: [{ group: '*', resource: '*' }] };
    const cases: Array<[string, Record<string, unknown>, Parameters<typeof validateConfig>[1], Record<string, number>]> = [
      ['group "*" counts every kind', everything, {}, { 'team-a': 5, 'team-sandbox-x': 1, 'kube-system': 1, _cluster: 1 }],
      [
        'exclude leaves types out of wildcards',
        { ...everything, exclude: ['events', 'leases.coordination.k8s.io'] },
        {},
        { 'team-a': 3, 'team-sandbox-x': 1, 'kube-system': 1, _cluster: 1 },
      ],
      ['a group wildcard counts that group only', { resources: [{ group: 'cert-manager.io', resource: '*' }] }, {}, { 'team-a': 1 }],
      [
        'namespaces include and exclude (globs)',
        { ...everything, namespaces: { include: ['team-*'], exclude: ['team-sandbox-*'] } },
        {},
        { 'team-a': 5, _cluster: 1 },
      ],
      ['-n replaces namespaces', everything, { namespaces: ['kube-system'] }, { 'kube-system': 1, _cluster: 1 }],
      [
        'a labelSelector',
        { resources: [{ version: 'v1', resource: 'pods', labelSelector: 'app in (web,db),track!=canary' }] },
        {},
        { 'team-a': 1, 'team-sandbox-x': 1 },
      ],
      [
        '-l is ANDed with it',
        { resources: [{ version: 'v1', resource: 'pods', labelSelector: 'app' }] },
        { labelSelector: '!track,app!=db' },
        { 'team-a': 1, 'kube-system': 1 },
      ],
      [
        'a fieldSelector on name and namespace',
        { resources: [{ version: 'v1', resource: 'pods', fieldSelector: 'metadata.namespace!=kube-system,metadata.name!=db-1' }] },
        {},
        { 'team-a': 2 },
      ],
      [
        'a fieldSelector on a field manifests lack counts the object',
        { resources: [{ version: 'v1', resource: 'pods', fieldSelector: 'status.phase!=Succeeded' }] },
        {},
        { 'team-a': 2, 'team-sandbox-x': 1, 'kube-system': 1 },
      ],
    ];
    for (const [what, doc, overrides, expected] of cases) {
      it(`${what}`, async () => assert.deepEqual(await rowsByShard(doc, overrides), expected));
    }
  });

  it('GIVEN kinds THEN plurals follow the API server', () => {
    assert.deepEqual(['Pod', 'Ingress', 'NetworkPolicy', 'Widget', 'Endpoints'].map(pluralOf), [
      'pods',
      'ingresses',
      'networkpolicies',
      'widgets',
      'endpoints',
    ]);
  });
});
