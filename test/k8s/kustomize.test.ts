import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parseAllDocuments } from 'yaml';

/**
 * Every kustomization in k8s/ renders with `kubectl kustomize`, as `kubectl apply -k` would build
 * it, and what each overlay grants stays read only. Skipped, saying so, where kubectl is missing.
 */

const run = promisify(execFile);
const K8S = fileURLToPath(new URL('../../k8s', import.meta.url));

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
interface Rendered {
  kind: string;
  metadata: { name: string; namespace?: string };
  rules?: Rule[];
  roleRef?: { kind: string; name: string };
  subjects?: Array<{ kind: string; name: string; namespace: string }>;
}

/** Why the tests cannot run here, or false when kubectl answers. */
async function kubectlMissing(): Promise<string | false> {
  try {
    await run('kubectl', ['version', '--client']);
    return false;
  } catch (error) {
    return `kubectl is not on the PATH (${(error as Error).message.split('\n')[0]}); install it to render the k8s/ overlays`;
  }
}

async function render(dir: string): Promise<Rendered[]> {
  const { stdout } = await run('kubectl', ['kustomize', dir], { maxBuffer: 16 * 1024 * 1024 });
  return parseAllDocuments(stdout).map((doc) => doc.toJS() as Rendered);
}

const only = (docs: Rendered[], kind: string): Rendered[] => docs.filter((d) => d.kind === kind);

/** Every rule of every (Cluster)Role is get and list, and the core group never grants secrets or "*". */
function assertReadOnly(docs: Rendered[]): void {
  for (const role of [...only(docs, 'ClusterRole'), ...only(docs, 'Role')]) {
    for (const rule of role.rules ?? []) {
      assert.deepEqual([...rule.verbs].sort(), ['get', 'list'], `${role.kind} ${role.metadata.name}`);
      if (rule.apiGroups.includes('')) {
        assert.ok(!rule.resources.includes('secrets') && !rule.resources.includes('*'), `${role.kind} ${role.metadata.name} would read Secrets' data`);
      }
    }
  }
}

const skip = await kubectlMissing();

describe('k8s/ rendered with kubectl kustomize', { skip }, () => {
  it('GIVEN the base and every overlay THEN each renders, with the CronJob, and every role read only', async () => {
    const overlays = (await readdir(join(K8S, 'overlays'), { withFileTypes: true })).filter((e) => e.isDirectory()).map((e) => join('overlays', e.name));
    assert.ok(overlays.length >= 4, overlays.join(', '));
    for (const dir of ['base', ...overlays]) {
      const docs = await render(join(K8S, dir));
      assert.equal(only(docs, 'CronJob').length, 1, dir);
      assertReadOnly(docs);
    }
  });

  it('GIVEN the wildcard overlay THEN its ClusterRole grants "*" of the chosen groups, and the core group type by type without secrets', async () => {
    const [role] = only(await render(join(K8S, 'overlays', 'wildcard')), 'ClusterRole');
    const core = role?.rules?.find((r) => r.apiGroups.includes(''));
    const groups = role?.rules?.find((r) => r.resources.includes('*'));
    assert.ok(core?.resources.includes('pods') && core.resources.includes('namespaces'));
    assert.ok(groups?.apiGroups.includes('apps') && groups.apiGroups.includes('cert-manager.io') && !groups.apiGroups.includes(''));
    assert.ok(groups && !groups.apiGroups.includes('*'), 'only the chosen groups, not every group');
  });

  it('GIVEN the namespaced overlay THEN each team namespace has a Role bound to kollect, and the ClusterRole lists namespaces only', async () => {
    const docs = await render(join(K8S, 'overlays', 'namespaced'));
    const roles = only(docs, 'Role');
    const bindings = only(docs, 'RoleBinding');
    assert.deepEqual(roles.map((r) => r.metadata.namespace).sort(), ['team-a', 'team-b']);
    for (const binding of bindings) {
      assert.deepEqual(binding.roleRef, { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: 'kollect-reader' });
      assert.deepEqual(binding.subjects, [{ kind: 'ServiceAccount', name: 'kollect', namespace: 'kollect' }]);
    }
    assert.deepEqual(bindings.map((b) => b.metadata.namespace).sort(), ['team-a', 'team-b']);
    assert.deepEqual(only(docs, 'ClusterRole')[0]?.rules, [{ apiGroups: [''], resources: ['namespaces'], verbs: ['get', 'list'] }]);
  });
});
