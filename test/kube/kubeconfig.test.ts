import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KubeConfigError } from '../../src/errors.js';
import { loadKubeConfig } from '../../src/kube/kubeconfig.js';
import { tempDir } from '../support/store-fixture.js';

function kubeconfigYaml(server: string, extra = ''): string {
  return [
    'apiVersion: v1',
    'kind: Config',
    'clusters:',
    `- name: one\n  cluster:\n    server: ${server}\n${extra}`,
    `- name: two\n  cluster:\n    server: https://two.example:6443`,
    'users:',
    '- name: u\n  user:\n    token: t0ken',
    'contexts:',
    '- name: first\n  context: { cluster: one, user: u }',
    '- name: second\n  context: { cluster: two, user: u }',
    'current-context: first',
  ].join('\n');
}

async function file(text: string): Promise<string> {
  const path = join(await tempDir('kollect-kubeconfig-'), 'config');
  await writeFile(path, text);
  return path;
}

describe('loadKubeConfig', () => {
  it('GIVEN --kubeconfig and --context THEN that file and context are used, before KUBECONFIG', async () => {
    const path = await file(kubeconfigYaml('https://one.example:6443'));
    const kc = loadKubeConfig({ kubeconfig: path, context: 'second' }, { KUBECONFIG: '/nonexistent' });
    assert.equal(kc.getCurrentCluster()?.server, 'https://two.example:6443');
  });

  it('GIVEN only KUBECONFIG THEN it is read', async () => {
    const path = await file(kubeconfigYaml('https://one.example:6443'));
    const saved = process.env.KUBECONFIG;
    process.env.KUBECONFIG = path;
    try {
      assert.equal(loadKubeConfig({}).getCurrentCluster()?.server, 'https://one.example:6443');
    } finally {
      if (saved === undefined) delete process.env.KUBECONFIG;
      else process.env.KUBECONFIG = saved;
    }
  });

  it('GIVEN an unknown context THEN KubeConfigError listing the known ones', async () => {
    const path = await file(kubeconfigYaml('https://one.example:6443'));
    assert.throws(
      () => loadKubeConfig({ kubeconfig: path, context: 'prod' }),
      (e: unknown) => e instanceof KubeConfigError && /"prod".*first, second/.test(e.message) && e.exitCode === 2,
    );
  });

  it('GIVEN a missing or broken file THEN KubeConfigError naming it', async () => {
    assert.throws(
      () => loadKubeConfig({ kubeconfig: '/nonexistent/kubeconfig' }),
      (e: unknown) => e instanceof KubeConfigError && e.message.includes('/nonexistent/kubeconfig'),
    );
    const broken = await file('clusters: [ {');
    assert.throws(() => loadKubeConfig({ kubeconfig: broken }), KubeConfigError);
  });

  it('GIVEN plain http without insecure-skip-tls-verify THEN refused; with it THEN accepted', async () => {
    const plain = await file(kubeconfigYaml('http://127.0.0.1:8080'));
    assert.throws(() => loadKubeConfig({ kubeconfig: plain }), /plain HTTP/);
    const explicit = await file(kubeconfigYaml('http://127.0.0.1:8080', '    insecure-skip-tls-verify: true'));
    assert.equal(loadKubeConfig({ kubeconfig: explicit }).getCurrentCluster()?.skipTLSVerify, true);
  });
});
