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
