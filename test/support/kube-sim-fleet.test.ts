import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { ApiException, ApisApi, CoreV1Api, CustomObjectsApi } from '@kubernetes/client-node';
import { startKubeSim, type KubeSim } from './kube-sim/index.js';
import { kubeConfig, listAll, METADATA_LIST, raw, rawJson, rejection, toPage, type RawList } from './kube-sim-client.js';

/**
 * kube-sim as a fleet's clusters differ: CRDs present in one and not another (or deleted between
 * runs), an aggregated API that is down, server-side selectors, and RBAC limited to namespaces.
 * Bodies and headers are held against the real server's recordings.
 */

const FIXTURES = new URL('../fixtures/kube-apiserver-v1.20.2/', import.meta.url);
const fixture = (name: string): Promise<string> => readFile(new URL(name, FIXTURES), 'utf8');

interface ResourceList {
  groupVersion: string;
  resources: Array<{ name: string; kind: string; namespaced: boolean; verbs: string[] }>;
}
interface GroupList {
  groups: Array<{ name: string; preferredVersion: { groupVersion: string } }>;
}
interface Status {
  kind: string;
  reason: string;
  message: string;
  code: number;
}

/** Every item of a raw list, page by page, with each page's item count and metadata. */
async function pagesOf(
  sim: KubeSim,
  path: string,
  accept = 'application/json',
): Promise<{ items: RawList['items']; pages: Array<RawList['metadata'] & { size: number }> }> {
  const items: RawList['items'] = [];
  const pages: Array<RawList['metadata'] & { size: number }> = [];
  let cont = '';
  do {
    const page = await rawJson<RawList>(sim, `${path}${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`, { accept });
    assert.equal(page.status, 200, JSON.stringify(page.body));
    items.push(...page.body.items);
    pages.push({ ...page.body.metadata, size: page.body.items.length });
    cont = page.body.metadata.continue ?? '';
  } while (cont);
  return { items, pages };
}

describe('kube-sim: types one cluster serves and another does not', () => {
  let without: KubeSim;
  before(async () => {
    without = await startKubeSim({ objects: 1_000, seed: 5, withoutTypes: ['widgets.example.com'] });
  });
  after(async () => without.close());

  it('GIVEN a cluster without the widgets CRD THEN discovery has no example.com, its list is the real plain-text 404, and expectedCounts leaves it out', async () => {
    const groups = await rawJson<GroupList>(without, '/apis');
    assert.ok(!groups.body.groups.some((g) => g.name === 'example.com'));
    assert.ok(groups.body.groups.some((g) => g.name === 'apps'));
    assert.equal((await raw(without, '/apis/example.com')).status, 404);
    for (const path of ['/apis/example.com/v1', '/apis/example.com/v1/widgets?limit=500', '/apis/example.com/v1/namespaces/default/widgets']) {
      const answer = await raw(without, path);
      assert.deepEqual(
        [answer.status, answer.headers.get('content-type'), answer.headers.get('x-content-type-options'), answer.text],
        [404, 'text/plain; charset=utf-8', 'nosniff', await fixture('not-found-resource.json')],
        path,
      );
    }
    const custom = (await kubeConfig(without)).makeApiClient(CustomObjectsApi);
    const error = await rejection(custom.listClusterCustomObject({ group: 'example.com', version: 'v1', plural: 'widgets', limit: 500 }));
    assert.ok(error instanceof ApiException && error.code === 404);
    const counts = without.expectedCounts();
    assert.equal(counts.byType['widgets.example.com'], undefined);
    const core = (await kubeConfig(without)).makeApiClient(CoreV1Api);
    assert.equal(
      counts.total,
      Object.values(counts.byType).reduce((a, b) => a + b, 0),
    );
    assert.equal((await listAll((c) => core.listPodForAllNamespaces({ limit: 500, _continue: c }))).items.length, counts.byType.pods);
  });

  it('GIVEN cert-manager installed WHEN its Certificate CRD is deleted at run time THEN discovery keeps issuers only, and certificates answer the plain-text 404', async () => {
    const sim = await startKubeSim({ objects: 1_000, seed: 5 });
    try {
      const before = await rawJson<ResourceList>(sim, '/apis/cert-manager.io/v1');
      const listable = before.body.resources.filter((r) => !r.name.includes('/') && r.verbs.includes('list')).map((r) => r.name);
      assert.deepEqual(listable, ['certificates', 'issuers', 'clusterissuers']);
      assert.equal((await raw(sim, '/apis/cert-manager.io/v1/certificates?limit=10')).status, 200);
      const widgetsBefore = sim.expectedCounts().byType['widgets.example.com']!;
      assert.ok(widgetsBefore > 0);

      sim.removeTypes(['certificates.cert-manager.io', 'widgets.example.com']);

      const after = await rawJson<ResourceList>(sim, '/apis/cert-manager.io/v1');
      assert.deepEqual(
        after.body.resources.map((r) => r.name),
        ['issuers', 'issuers/status', 'clusterissuers', 'clusterissuers/status'],
      );
      const gone = await raw(sim, '/apis/cert-manager.io/v1/certificates?limit=10');
      assert.deepEqual([gone.status, gone.text], [404, await fixture('not-found-resource.json')]);
      assert.equal((await raw(sim, '/apis/cert-manager.io/v1/issuers?limit=10')).status, 200);
      assert.equal((await raw(sim, '/apis/example.com/v1/widgets?limit=10')).status, 404);
      assert.equal(sim.expectedCounts().byType['widgets.example.com'], undefined);
      assert.throws(() => sim.removeTypes(['gadgets.example.com']), /no type gadgets\.example\.com/);
    } finally {
      await sim.close();
    }
  });

  it('GIVEN a built-in type the cluster does not serve THEN its served group version answers a NotFound Status, as the apiserver router does', async () => {
    const sim = await startKubeSim({ objects: 1_000, withoutTypes: ['configmaps'] });
    try {
      const v1 = await rawJson<ResourceList>(sim, '/api/v1');
      assert.ok(!v1.body.resources.some((r) => r.name === 'configmaps'));
      const list = await rawJson<Status>(sim, '/api/v1/configmaps?limit=10');
      assert.deepEqual(
        [list.status, list.body.kind, list.body.reason, list.body.message],
        [404, 'Status', 'NotFound', 'the server could not find the requested resource'],
      );
    } finally {
      await sim.close();
    }
  });
});

describe('kube-sim: an aggregated API that is down', () => {
  let sim: KubeSim;
  before(async () => {
    sim = await startKubeSim({ objects: 1_000, unavailableGroups: ['metrics.k8s.io'] });
  });
  after(async () => sim.close());

  it('GIVEN metrics.k8s.io unavailable THEN /apis and /apis/metrics.k8s.io still name it, its version and lists answer the aggregator 503, other groups serve', async () => {
    const groups = await (await kubeConfig(sim)).makeApiClient(ApisApi).getAPIVersions();
    assert.equal(groups.groups.find((g) => g.name === 'metrics.k8s.io')?.preferredVersion?.groupVersion, 'metrics.k8s.io/v1beta1');
    assert.equal((await rawJson<{ name: string }>(sim, '/apis/metrics.k8s.io')).body.name, 'metrics.k8s.io');
    for (const path of [
      '/apis/metrics.k8s.io/v1beta1',
      '/apis/metrics.k8s.io/v1beta1/pods?limit=500',
      '/apis/metrics.k8s.io/v1beta1/namespaces/default/pods',
    ]) {
      const answer = await raw(sim, path);
      assert.deepEqual([answer.status, answer.headers.get('content-type'), answer.text], [503, 'text/plain; charset=utf-8', 'service unavailable\n'], path);
    }
    const custom = (await kubeConfig(sim)).makeApiClient(CustomObjectsApi);
    const error = await rejection(custom.listClusterCustomObject({ group: 'metrics.k8s.io', version: 'v1beta1', plural: 'nodes' }));
    assert.ok(error instanceof ApiException && error.code === 503);
    assert.equal((await raw(sim, '/apis/cert-manager.io/v1')).status, 200);
    assert.equal(sim.expectedCounts().byType['pods.metrics.k8s.io'], undefined);
  });

  it('GIVEN metrics.k8s.io available (the default) THEN it lists get/list types whose lists are empty', async () => {
    const up = await startKubeSim({ objects: 1_000 });
    try {
      const discovery = await rawJson<ResourceList>(up, '/apis/metrics.k8s.io/v1beta1');
      assert.deepEqual(
        discovery.body.resources.map((r) => [r.name, r.kind, r.namespaced, r.verbs]),
        [
          ['pods', 'PodMetrics', true, ['get', 'list']],
          ['nodes', 'NodeMetrics', false, ['get', 'list']],
        ],
      );
      const nodes = await rawJson<RawList>(up, '/apis/metrics.k8s.io/v1beta1/nodes?limit=500');
      assert.deepEqual([nodes.status, nodes.body.kind, nodes.body.items], [200, 'NodeMetricsList', []]);
    } finally {
      await up.close();
    }
  });
});

describe('kube-sim: server-side label and field selectors', () => {
  let sim: KubeSim;
  let core: CoreV1Api;
  before(async () => {
    sim = await startKubeSim({ objects: 3_000, seed: 9 });
    core = (await kubeConfig(sim)).makeApiClient(CoreV1Api);
  });
  after(async () => sim.close());

  const labelSelector = 'tier in (api,frontend),team!=payments';
  const fieldSelector = 'status.phase=Running';

  it('GIVEN a label and a field selector WHEN pods are paged by 40, full and metadata-only THEN each page holds at most 40, together exactly the matching pods, and no remainingItemCount', async () => {
    const query = `labelSelector=${encodeURIComponent(labelSelector)}&fieldSelector=${encodeURIComponent(fieldSelector)}`;
    const full = await pagesOf(sim, `/api/v1/pods?limit=40&${query}`);
    const metadata = await pagesOf(sim, `/api/v1/pods?limit=40&${query}`, METADATA_LIST);
    const expected = sim.expectedCounts({ labelSelector, fieldSelector }).byType.pods!;
    const all = sim.expectedCounts().byType.pods!;
    assert.ok(expected > 40 && expected < all / 2, `a selective filter over several pages: ${expected} of ${all}`);
    for (const { items, pages } of [full, metadata]) {
      assert.equal(items.length, expected);
      assert.equal(new Set(items.map((i) => i.metadata.uid)).size, expected);
      assert.ok(pages.length > 1 && pages.every((p) => p.size <= 40 && p.remainingItemCount === undefined));
      assert.ok(items.every((i) => ['api', 'frontend'].includes(i.metadata.labels!.tier!) && i.metadata.labels!.team !== 'payments'));
    }
    assert.ok(full.items.every((i) => (i as { status?: { phase?: string } }).status?.phase === 'Running'));
    assert.deepEqual(
      metadata.items.map((i) => i.metadata.uid),
      full.items.map((i) => i.metadata.uid),
    );
    const client = await listAll((c) => core.listPodForAllNamespaces({ limit: 40, labelSelector, fieldSelector, _continue: c }));
    assert.equal(client.items.length, expected);
  });

  it('GIVEN a namespace and a selector THEN the per-namespace list and expectedCounts agree, and != and !key match objects without the label', async () => {
    const namespace = 'payments-prod';
    const perType: Record<string, number> = {};
    for (const [key, path] of [
      ['pods', `/api/v1/namespaces/${namespace}/pods`],
      ['configmaps', `/api/v1/namespaces/${namespace}/configmaps`],
      ['deployments.apps', `/apis/apps/v1/namespaces/${namespace}/deployments`],
      ['widgets.example.com', `/apis/example.com/v1/namespaces/${namespace}/widgets`],
    ] as const) {
      perType[key] = (await pagesOf(sim, `${path}?limit=25&labelSelector=tier%3Dworker`)).items.length;
    }
    const expected = sim.expectedCounts({ labelSelector: 'tier=worker', namespaces: [namespace] });
    assert.deepEqual(perType, {
      pods: expected.byType.pods,
      configmaps: expected.byType.configmaps,
      'deployments.apps': expected.byType['deployments.apps'],
      'widgets.example.com': expected.byType['widgets.example.com'],
    });
    assert.deepEqual(Object.keys(expected.byNamespace), [namespace]);
    assert.equal(expected.byType.namespaces, undefined, 'cluster-scoped types are not listed inside a namespace');

    const namespaces = sim.expectedCounts().byType.namespaces!;
    assert.equal((await core.listNamespace({ labelSelector: '!tier' })).items.length, namespaces);
    assert.equal((await core.listNamespace({ labelSelector: 'tier' })).items.length, 0);
    assert.equal((await core.listNamespace({ labelSelector: 'tier!=api' })).items.length, namespaces);
    const named = await core.listNamespacedPod({ namespace, fieldSelector: `metadata.name!=nothing,metadata.namespace=${namespace}` });
    assert.equal(named.items.length, sim.expectedCounts({ namespaces: [namespace] }).byType.pods);
  });

  const refusals: Array<{ path: string; message: RegExp }> = [
    { path: '/api/v1/configmaps?fieldSelector=status.phase%3DRunning', message: /^field label not supported: status\.phase$/ },
    { path: '/apis/example.com/v1/widgets?fieldSelector=spec.nodeName%3Dx', message: /^field label not supported: spec\.nodeName$/ },
    { path: '/api/v1/pods?fieldSelector=status.phase', message: /^invalid selector: 'status\.phase'/ },
    { path: '/api/v1/pods?labelSelector=tier%20in%20api', message: /^unable to parse requirement/ },
    { path: '/api/v1/pods?labelSelector=tier%3D%22a%20b%22', message: /^unable to parse requirement/ },
  ];
  for (const c of refusals) {
    it(`GIVEN ${decodeURIComponent(c.path)} THEN 400 BadRequest`, async () => {
      const answer = await rawJson<Status>(sim, c.path);
      assert.deepEqual([answer.status, answer.body.kind, answer.body.reason, answer.body.code], [400, 'Status', 'BadRequest', 400]);
      assert.match(answer.body.message, c.message);
    });
  }

  it('GIVEN an unsupported field through the real client THEN it throws the 400', async () => {
    const error = await rejection(core.listConfigMapForAllNamespaces({ fieldSelector: 'spec.nodeName=x' }));
    assert.ok(error instanceof ApiException && error.code === 400);
  });

  it('GIVEN expectedCounts with a field the type does not index THEN that type is left out, as its list would be refused', () => {
    const counts = sim.expectedCounts({ fieldSelector: 'status.phase=Pending' });
    assert.deepEqual(Object.keys(counts.byType).sort(), ['namespaces', 'pods']);
    assert.equal(counts.byType.namespaces, 0, 'namespaces are Active');
    assert.throws(() => sim.expectedCounts({ labelSelector: 'tier in' }), /unable to parse requirement/);
  });
});

describe('kube-sim: RBAC that allows some namespaces', () => {
  let sim: KubeSim;
  before(async () => {
    sim = await startKubeSim({ objects: 1_000, seed: 2, rbac: { namespaces: ['default', 'kube-system'] } });
  });
  after(async () => sim.close());

  /** The recorded 403, with the user the simulator names. */
  async function recordedForbidden(user: string): Promise<unknown> {
    const body = JSON.parse(await fixture('forbidden-pods.json')) as Status;
    return { ...body, message: body.message.replace(/User "[^"]*"/, `User "${user}"`) };
  }

  it('GIVEN Roles in default and kube-system THEN a cluster-wide pods list is the real 403 body, word for word but the user', async () => {
    const answer = await raw(sim, '/api/v1/pods?limit=500');
    const body = JSON.parse(answer.text) as Status;
    const user = /User "([^"]*)"/.exec(body.message)![1]!;
    assert.deepEqual(body, await recordedForbidden(user));
    assert.deepEqual([answer.status, answer.headers.get('content-type'), answer.headers.get('x-content-type-options')], [403, 'application/json', 'nosniff']);
  });

  it('GIVEN Roles in default and kube-system THEN those namespaces list, another is 403 "in the namespace", namespaces and nodes are 403, discovery is open', async () => {
    const core = (await kubeConfig(sim)).makeApiClient(CoreV1Api);
    const allowed = sim.expectedCounts({ namespaces: ['default', 'kube-system'] });
    let pods = 0;
    for (const namespace of ['default', 'kube-system'])
      pods += (await listAll((c) => core.listNamespacedPod({ namespace, limit: 50, _continue: c }))).items.length;
    assert.equal(pods, allowed.byType.pods);
    const custom = (await kubeConfig(sim)).makeApiClient(CustomObjectsApi);
    const widgets = await listAll((c) =>
      custom.listNamespacedCustomObject({ group: 'example.com', version: 'v1', namespace: 'default', plural: 'widgets', limit: 50, _continue: c }).then(toPage),
    );
    assert.equal(widgets.items.length, sim.expectedCounts({ namespaces: ['default'] }).byType['widgets.example.com']);

    const elsewhere = await rawJson<Status>(sim, '/apis/apps/v1/namespaces/payments-prod/deployments');
    assert.equal(elsewhere.status, 403);
    assert.match(
      elsewhere.body.message,
      /^deployments\.apps is forbidden: User "[^"]+" cannot list resource "deployments" in API group "apps" in the namespace "payments-prod"$/,
    );
    for (const path of ['/api/v1/namespaces', '/api/v1/nodes', '/apis/cert-manager.io/v1/clusterissuers'])
      assert.equal((await raw(sim, path)).status, 403, path);
    const error = await rejection(core.listNamespace());
    assert.ok(error instanceof ApiException && error.code === 403);
    for (const path of ['/api', '/api/v1', '/apis', '/apis/apps/v1']) assert.equal((await raw(sim, path)).status, 200, path);
  });

  it('GIVEN listNamespaces THEN namespaces list; GIVEN clusterWide THEN everything does', async () => {
    const lister = await startKubeSim({ objects: 1_000, rbac: { namespaces: ['default'], listNamespaces: true } });
    const admin = await startKubeSim({ objects: 1_000, rbac: { clusterWide: true } });
    try {
      assert.equal((await raw(lister, '/api/v1/namespaces')).status, 200);
      assert.equal((await raw(lister, '/api/v1/nodes')).status, 403);
      for (const path of ['/api/v1/namespaces', '/api/v1/nodes', '/api/v1/pods?limit=5', '/api/v1/namespaces/payments-prod/pods?limit=5']) {
        assert.equal((await raw(admin, path)).status, 200, path);
      }
    } finally {
      await Promise.all([lister.close(), admin.close()]);
    }
  });
});
