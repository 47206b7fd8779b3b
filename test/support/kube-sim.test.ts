import assert from 'node:assert/strict';
import { isAscii } from 'node:buffer';
import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { ApiException, ApisApi, AppsV1Api, CoreApi, CoreV1Api, CustomObjectsApi, KubeConfig } from '@kubernetes/client-node';
import { parse } from 'yaml';
import { Cluster } from './kube-sim/cluster.js';
import { startKubeSim, type KubeSim } from './kube-sim/index.js';
import { RESOURCE_TYPES } from './kube-sim/resources.js';
import { kubeConfig, listAll, METADATA_LIST, raw, rawJson, rawListAll, rejection, toPage, type Meta, type Page, type RawList } from './kube-sim-client.js';
import { tempDir } from './store-fixture.js';

const EXPIRED = {
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message:
    'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
  reason: 'Expired',
  code: 410,
};

describe('kube-sim with 20,000 objects, through @kubernetes/client-node', () => {
  let sim: KubeSim;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let custom: CustomObjectsApi;
  before(async () => {
    sim = await startKubeSim({ objects: 20_000, seed: 42 });
    const kc = await kubeConfig(sim);
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
    custom = kc.makeApiClient(CustomObjectsApi);
  });
  after(async () => sim.close());

  it('GIVEN limit 500 WHEN the client pages pods cluster-wide THEN every pod arrives exactly once, in etcd key order, with remainingItemCount counting down', async () => {
    const expected = sim.expectedCounts().byType.pods!;
    const { items, pages } = await listAll((c) => core.listPodForAllNamespaces({ limit: 500, _continue: c }));
    assert.equal(items.length, expected);
    assert.equal(new Set(items.map((p) => p.metadata?.uid)).size, expected);
    const keys = items.map((p) => `${p.metadata?.namespace}/${p.metadata?.name}`);
    assert.deepEqual(keys, [...keys].sort());
    assert.equal(pages.length, Math.ceil(expected / 500));
    pages.forEach((page, i) => {
      if (i < pages.length - 1) assert.equal(page?.remainingItemCount, expected - 500 * (i + 1));
      else assert.equal(page?._continue, undefined);
    });
  });

  it('GIVEN every type WHEN listed per namespace THEN the counts are expectedCounts().byNamespace, and cluster-scoped lists make up ""', async () => {
    const expected = sim.expectedCounts();
    const counted: Record<string, number> = {};
    for (const namespace of (await core.listNamespace()).items.map((ns) => ns.metadata!.name!)) {
      const lists: Array<(c: string | undefined) => Promise<Page>> = [
        (c) => core.listNamespacedPod({ namespace, limit: 500, _continue: c }),
        (c) => core.listNamespacedConfigMap({ namespace, limit: 500, _continue: c }),
        (c) => core.listNamespacedSecret({ namespace, limit: 500, _continue: c }),
        (c) => core.listNamespacedService({ namespace, limit: 500, _continue: c }),
        (c) => apps.listNamespacedDeployment({ namespace, limit: 500, _continue: c }),
        (c) => custom.listNamespacedCustomObject({ group: 'example.com', version: 'v1', namespace, plural: 'widgets', limit: 500, _continue: c }).then(toPage),
      ];
      for (const list of lists) {
        const { items } = await listAll(list);
        assert.ok(items.every((item) => item.metadata?.namespace === namespace));
        counted[namespace] = (counted[namespace] ?? 0) + items.length;
      }
    }
    counted[''] =
      (await listAll((c) => core.listNamespace({ limit: 7, _continue: c }))).items.length +
      (await listAll((c) => core.listNode({ limit: 500, _continue: c }))).items.length;
    assert.deepEqual(counted, expected.byNamespace);
    assert.equal(expected.total, 20_000);
  });

  it('GIVEN 20,000 objects THEN one namespace is over 2,500, at least two hold 2,000-2,500, and the rest at most 1,500', () => {
    const sizes = Object.entries(sim.expectedCounts().byNamespace)
      .filter(([ns]) => ns !== '')
      .map(([, n]) => n);
    assert.equal(sizes.filter((n) => n > 2500).length, 1);
    assert.ok(sizes.filter((n) => n > 2000 && n <= 2500).length >= 2);
    assert.ok(
      sizes.filter((n) => n <= 2000).every((n) => n <= 1500),
      String(sizes),
    );
    assert.ok(sizes.length >= 10, `${sizes.length} namespaces`);
  });

  it('GIVEN the CRD WHEN the client lists widgets cluster-wide THEN it gets them all, each with apiVersion and kind', async () => {
    const { items } = await listAll(async (c) =>
      toPage(await custom.listClusterCustomObject({ group: 'example.com', version: 'v1', plural: 'widgets', limit: 500, _continue: c })),
    );
    assert.equal(items.length, sim.expectedCounts().byType['widgets.example.com']);
    const first = items[0] as { apiVersion?: string; kind?: string };
    assert.deepEqual([first.apiVersion, first.kind], ['example.com/v1', 'Widget']);
  });

  it('GIVEN every type THEN keys come as encoding/json writes them: maps sorted (labels, annotations, data, a whole custom resource), structs in field order (metadata of PartialObjectMetadata)', async () => {
    /** Paths of objects whose keys are not in sorted order, anywhere below `value`. */
    const unsorted = (value: unknown, path: string): string[] => {
      if (value === null || typeof value !== 'object') return [];
      if (Array.isArray(value)) return value.flatMap((item, i) => unsorted(item, `${path}[${i}]`));
      const keys = Object.keys(value);
      const here = keys.join() === [...keys].sort().join() ? [] : [path];
      return [...here, ...keys.flatMap((key) => unsorted((value as Record<string, unknown>)[key], `${path}.${key}`))];
    };
    const lists = [
      '/api/v1/namespaces',
      '/api/v1/nodes',
      ...['pods', 'configmaps', 'secrets', 'services'].map((r) => `/api/v1/namespaces/payments-prod/${r}`),
      '/apis/apps/v1/namespaces/payments-prod/deployments',
    ];
    for (const path of lists) {
      for (const item of (await rawListAll(sim, path)).items) {
        const maps = [item.metadata.labels, (item.metadata as { annotations?: object }).annotations, item.data];
        assert.deepEqual(
          maps.flatMap((map) => unsorted(map, `${path} ${item.metadata.name}`)),
          [],
        );
      }
    }
    const widgets = await rawListAll(sim, '/apis/example.com/v1/namespaces/payments-prod/widgets');
    assert.ok(widgets.items.length > 0);
    for (const widget of widgets.items) assert.deepEqual(unsorted(widget, 'widget'), []);
    // ObjectMeta's fields in the order of the Go struct, as encoding/json writes them.
    const objectMeta = [
      'name',
      'generateName',
      'namespace',
      'selfLink',
      'uid',
      'resourceVersion',
      'generation',
      'creationTimestamp',
      'deletionTimestamp',
      'deletionGracePeriodSeconds',
      'labels',
      'annotations',
      'ownerReferences',
      'finalizers',
      'managedFields',
    ];
    for (const path of ['/api/v1/namespaces/payments-prod/pods', '/apis/example.com/v1/namespaces/payments-prod/widgets']) {
      for (const item of (await rawListAll(sim, path, METADATA_LIST)).items) {
        const keys = Object.keys(item.metadata);
        assert.deepEqual(
          keys,
          objectMeta.filter((key) => keys.includes(key)),
          path,
        );
      }
    }
  });

  it('GIVEN discovery THEN the core version, the apps, example.com and policy (v1 and v1beta1) groups and their resources are served', async () => {
    const kc = await kubeConfig(sim);
    assert.deepEqual((await kc.makeApiClient(CoreApi).getAPIVersions()).versions, ['v1']);
    const groups = (await kc.makeApiClient(ApisApi).getAPIVersions()).groups;
    const versions = Object.fromEntries(
      groups.map((g) => [g.name, { served: g.versions.map((v) => v.groupVersion), preferred: g.preferredVersion?.groupVersion }]),
    );
    assert.deepEqual(versions['example.com'], { served: ['example.com/v1'], preferred: 'example.com/v1' });
    assert.deepEqual(versions.policy, { served: ['policy/v1', 'policy/v1beta1'], preferred: 'policy/v1' });
    assert.deepEqual(versions.apps?.served, ['apps/v1']);

    const beta = await rawJson<{ groupVersion: string; resources: Array<{ name: string; namespaced: boolean; verbs: string[] }> }>(sim, '/apis/policy/v1beta1');
    const pdb = beta.body.resources.find((r) => r.name === 'poddisruptionbudgets');
    assert.equal(beta.body.groupVersion, 'policy/v1beta1');
    assert.ok(pdb?.namespaced && pdb.verbs.includes('list'));
    const pdbs = await rawJson<RawList>(sim, '/apis/policy/v1beta1/poddisruptionbudgets?limit=500');
    assert.deepEqual([pdbs.status, pdbs.body.kind, pdbs.body.apiVersion, pdbs.body.items], [200, 'PodDisruptionBudgetList', 'policy/v1beta1', []]);

    const v1 = await rawJson<{ resources: Array<{ name: string; kind: string; shortNames?: string[] }> }>(sim, '/api/v1');
    assert.deepEqual(v1.body.resources.find((r) => r.name === 'pods')?.shortNames, ['po']);
    assert.equal(v1.body.resources.find((r) => r.name === 'pods/status')?.kind, 'Pod');
    const version = await rawJson<{ gitVersion: string }>(sim, '/version');
    assert.match(version.body.gitVersion, /^v1\.\d+\.\d+$/);
  });

  it('GIVEN the Accept header client-go sends for aggregated discovery THEN the server declines it and answers the plain APIGroupList', async () => {
    const both = await rawJson<{ kind: string }>(sim, '/apis', {
      accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json',
    });
    assert.deepEqual([both.status, both.body.kind, both.headers.get('content-type')], [200, 'APIGroupList', 'application/json']);
    const only = await rawJson<{ reason: string }>(sim, '/apis', { accept: 'application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' });
    assert.deepEqual([only.status, only.body.reason], [406, 'NotAcceptable']);
  });

  describe('content negotiation of a list', () => {
    const cases: Array<{ accept: string; status: number; kind: string }> = [
      { accept: 'application/vnd.kubernetes.protobuf', status: 406, kind: 'Status' },
      { accept: 'application/yaml', status: 406, kind: 'Status' },
      { accept: 'application/vnd.kubernetes.protobuf, application/json', status: 200, kind: 'PodList' },
      { accept: 'application/vnd.kubernetes.protobuf;q=0.9, */*;q=0.8', status: 200, kind: 'PodList' },
      { accept: 'application/*', status: 200, kind: 'PodList' },
      { accept: 'application/json;as=Table;v=v1;g=meta.k8s.io,application/json', status: 200, kind: 'PodList' },
      { accept: 'application/json;q=0.5, application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1', status: 200, kind: 'PartialObjectMetadataList' },
      { accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1', status: 406, kind: 'Status' },
    ];
    for (const c of cases) {
      it(`GIVEN Accept: ${c.accept} THEN ${c.status} ${c.kind}`, async () => {
        const response = await rawJson<{ kind: string; reason?: string }>(sim, '/api/v1/namespaces/payments-prod/pods?limit=5', { accept: c.accept });
        assert.deepEqual([response.status, response.body.kind], [c.status, c.kind]);
        if (c.status === 406) assert.equal(response.body.reason, 'NotAcceptable');
      });
    }
  });

  it('GIVEN metadata-only THEN pods come as PartialObjectMetadataList with managedFields, and the full list costs at least 3x the bytes', async () => {
    const full = await rawListAll(sim, '/api/v1/pods');
    const lean = await rawListAll(sim, '/api/v1/pods', METADATA_LIST);
    assert.deepEqual(
      lean.items.map((i) => i.metadata.uid),
      full.items.map((i) => i.metadata.uid),
    );
    const item = lean.items[0]!;
    assert.deepEqual([item.kind, item.apiVersion, item.spec], ['PartialObjectMetadata', 'meta.k8s.io/v1', undefined]);
    assert.ok((item.metadata.managedFields ?? []).length > 0);
    assert.equal(full.items[0]!.kind, undefined, 'items of a built-in list carry no kind, as on a real server');
    assert.ok(full.bytes >= 3 * lean.bytes, `full ${full.bytes} vs metadata ${lean.bytes}`);

    const name = full.items[0]!.metadata.name;
    const one = await rawJson<{ kind: string; metadata: Meta }>(sim, `/api/v1/namespaces/${full.items[0]!.metadata.namespace}/pods/${name}`, {
      accept: 'application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1',
    });
    assert.deepEqual([one.status, one.body.kind, one.body.metadata.name], [200, 'PartialObjectMetadata', name]);
  });

  it('GIVEN Secrets THEN every data value starts with the marker, and no metadata contains it', async () => {
    const { items } = await rawListAll(sim, '/api/v1/secrets');
    assert.equal(items.length, sim.expectedCounts().byType.secrets);
    for (const secret of items) {
      assert.ok(Object.values(secret.data ?? {}).every((value) => value.startsWith(sim.secretMarker) && /^[A-Za-z0-9+/]+$/.test(value)));
      assert.ok(!JSON.stringify(secret.metadata).includes(sim.secretMarker));
    }
    assert.ok(!(await raw(sim, '/api/v1/secrets?limit=500', { accept: METADATA_LIST })).text.includes(sim.secretMarker));
  });

  it('GIVEN single objects THEN a GET returns the object with its kind, a missing one is a NotFound Status, an unknown group a plain 404, and only GET is allowed', async () => {
    const { items } = await core.listNamespacedPod({ namespace: 'payments-prod', limit: 1 });
    const pod = await core.readNamespacedPod({ namespace: 'payments-prod', name: items[0]!.metadata!.name! });
    assert.equal(pod.metadata?.uid, items[0]!.metadata?.uid);
    const got = await rawJson<{ kind: string; apiVersion: string }>(sim, `/api/v1/namespaces/payments-prod/pods/${pod.metadata!.name}/status`);
    assert.deepEqual([got.body.kind, got.body.apiVersion], ['Pod', 'v1']);
    const missing = await rawJson(sim, '/api/v1/namespaces/payments-prod/pods/nope');
    assert.deepEqual(missing.body, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'pods "nope" not found',
      reason: 'NotFound',
      details: { name: 'nope', kind: 'pods' },
      code: 404,
    });
    // A group nothing serves reaches the mux's plain-text 404, as in the recorded fixture.
    const unknown = await raw(sim, '/apis/nothing.example.com/v1/things');
    const recorded = await readFile(new URL('../fixtures/kube-apiserver-v1.20.2/not-found-resource.json', import.meta.url), 'utf8');
    assert.deepEqual([unknown.status, unknown.headers.get('content-type'), unknown.text], [404, 'text/plain; charset=utf-8', recorded]);
    const unknownResource = await rawJson<{ reason: string; code: number }>(sim, '/api/v1/things');
    assert.deepEqual([unknownResource.status, unknownResource.body.reason], [404, 'NotFound']);
    const post = await fetch(`${sim.url}/api/v1/namespaces/payments-prod/pods`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sim.token}` },
      body: '{}',
    });
    assert.equal(post.status, 405);
  });

  describe('list options', () => {
    const cases: Array<{ query: string; status: number; reason?: string; message?: RegExp }> = [
      { query: 'limit=abc', status: 400, reason: 'BadRequest' },
      { query: 'continue=not*base64', status: 400, reason: 'BadRequest', message: /^invalid continue token: continue key is not valid/ },
      {
        query: `continue=${Buffer.from('{"v":"meta.k8s.io/v1","rv":0,"start":"a"}').toString('base64url')}`,
        status: 400,
        message: /incorrect encoded start resourceVersion/,
      },
      {
        query: 'continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiJhIn0&resourceVersion=5',
        status: 400,
        message: /^specifying resource version is not allowed when using continue$/,
      },
      { query: 'resourceVersionMatch=Exact', status: 422, reason: 'Invalid', message: /resourceVersionMatch is forbidden unless resourceVersion is provided/ },
      { query: 'resourceVersion=0&resourceVersionMatch=Exact', status: 422, reason: 'Invalid' },
      { query: 'resourceVersion=1&resourceVersionMatch=NotOlderThan&limit=5', status: 200 },
    ];
    for (const c of cases) {
      it(`GIVEN ?${c.query} THEN ${c.status}`, async () => {
        const response = await rawJson<{ reason?: string; message?: string }>(sim, `/api/v1/configmaps?${c.query}`);
        assert.equal(response.status, c.status, JSON.stringify(response.body));
        if (c.reason) assert.equal(response.body.reason, c.reason);
        if (c.message) assert.match(response.body.message ?? '', c.message);
      });
    }

    it('GIVEN resourceVersion=0 THEN the watch cache answers: the limit is ignored and there is no continue', async () => {
      const list = await rawJson<RawList>(sim, '/api/v1/namespaces/payments-prod/configmaps?limit=5&resourceVersion=0');
      assert.equal(list.body.items.length, (await rawListAll(sim, '/api/v1/namespaces/payments-prod/configmaps')).items.length);
      assert.equal(list.body.metadata.continue, undefined);
    });
  });

  it('GIVEN a 429 on configmaps page 2 THEN that page answers TooManyRequests with Retry-After once, and the same token then succeeds', async () => {
    sim.inject({ kind: 'status', status: 429, resource: 'configmaps', page: 2, retryAfterSeconds: 3 });
    const first = await rawJson<RawList>(sim, '/api/v1/configmaps?limit=100');
    assert.equal(first.status, 200);
    const path = `/api/v1/configmaps?limit=100&continue=${first.body.metadata.continue}`;
    const limited = await rawJson<{ reason: string; details: { retryAfterSeconds: number } }>(sim, path);
    assert.deepEqual(
      [limited.status, limited.headers.get('retry-after'), limited.body.reason, limited.body.details.retryAfterSeconds],
      [429, '3', 'TooManyRequests', 3],
    );
    assert.equal((await rawJson(sim, path)).status, 200);
  });

  it('GIVEN a 410 on pods page 3 THEN the client gets the real Expired Status on that page only', async () => {
    sim.inject({ kind: 'status', status: 410, resource: 'pods', page: 3 });
    const page1 = await core.listPodForAllNamespaces({ limit: 500 });
    const page2 = await core.listPodForAllNamespaces({ limit: 500, _continue: page1.metadata!._continue! });
    const error = await rejection(core.listPodForAllNamespaces({ limit: 500, _continue: page2.metadata!._continue! }));
    assert.ok(error instanceof ApiException);
    assert.equal(error.code, 410);
    assert.deepEqual(JSON.parse(error.body as string), EXPIRED);
    assert.equal((await core.listPodForAllNamespaces({ limit: 500, _continue: page2.metadata!._continue! })).items.length, 500);
  });

  it('GIVEN a 403 on configmaps for ever THEN every configmaps request is Forbidden with the authorizer wording, and other types are not', async () => {
    sim.inject({ kind: 'status', status: 403, resource: 'configmaps', times: Infinity });
    for (let i = 0; i < 3; i++) {
      const error = await rejection(core.listConfigMapForAllNamespaces({ limit: 500 }));
      assert.ok(error instanceof ApiException && error.code === 403);
      const status = JSON.parse(error.body as string) as { reason: string; message: string };
      assert.equal(status.reason, 'Forbidden');
      assert.match(status.message, /^configmaps is forbidden: User ".+" cannot list resource "configmaps" in API group "" at the cluster scope$/);
    }
    assert.equal((await core.listNamespacedSecret({ namespace: 'payments-prod', limit: 1 })).items.length, 1);
    sim.clearFaults();
    assert.equal((await core.listConfigMapForAllNamespaces({ limit: 1 })).items.length, 1);
  });

  it('GIVEN a drop on deployments page 2 THEN the client fails mid-body on that page, and the retry succeeds', async () => {
    sim.inject({ kind: 'drop', resource: 'deployments', page: 2 });
    const page1 = await apps.listDeploymentForAllNamespaces({ limit: 500 });
    const cont = page1.metadata!._continue!;
    const error = await rejection(apps.listDeploymentForAllNamespaces({ limit: 500, _continue: cont }));
    assert.ok(!(error instanceof ApiException), `a broken body, not an HTTP error: ${String(error)}`);
    assert.match(String(error), /premature close|terminated|socket|aborted/i);
    assert.equal((await apps.listDeploymentForAllNamespaces({ limit: 500, _continue: cont })).items.length, 500);
  });

  it('GIVEN no token or a wrong one THEN 401 with an Unauthorized Status; health needs none; every request is counted', async () => {
    sim.resetStats();
    assert.deepEqual(sim.stats, { requests: 0, bytes: 0, byPath: {}, lists: 0 });
    const anonymous = (await kubeConfig(sim, { withToken: false })).makeApiClient(CoreV1Api);
    const error = await rejection(anonymous.listNamespace());
    assert.ok(error instanceof ApiException && error.code === 401);
    const wrong = await fetch(`${sim.url}/api/v1/pods`, { headers: { authorization: 'Bearer wrong' } });
    assert.deepEqual(await wrong.json(), {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: 'Unauthorized',
      reason: 'Unauthorized',
      code: 401,
    });
    const health = await fetch(`${sim.url}/healthz`);
    assert.deepEqual([health.status, await health.text()], [200, 'ok']);
    const listed = await raw(sim, '/api/v1/namespaces?limit=3');
    assert.deepEqual(
      { requests: sim.stats.requests, lists: sim.stats.lists, byPath: sim.stats.byPath },
      { requests: 4, lists: 1, byPath: { '/api/v1/namespaces': 2, '/api/v1/pods': 1, '/healthz': 1 } },
    );
    assert.ok(sim.stats.bytes > Buffer.byteLength(listed.text));
  });
});

describe('kube-sim continue tokens expire', () => {
  let sim: KubeSim;
  before(async () => {
    sim = await startKubeSim({ objects: 2_000, seed: 3, continueTtlMs: 300 });
  });
  after(async () => sim.close());

  it('GIVEN a token WHEN it is used within the TTL THEN it works, and after it THEN 410 Expired, word for word', async () => {
    const first = await rawJson<RawList>(sim, '/api/v1/pods?limit=100');
    const path = `/api/v1/pods?limit=100&continue=${first.body.metadata.continue}`;
    assert.equal((await rawJson(sim, path)).status, 200);
    await new Promise((resolve) => setTimeout(resolve, 400));
    const expired = await rawJson(sim, path);
    assert.equal(expired.status, 410);
    assert.deepEqual(expired.body, EXPIRED);
    assert.equal((await rawJson(sim, '/api/v1/pods?limit=100')).status, 200, 'a new list starts fine');
  });
});

describe('kube-sim mutate', () => {
  it('GIVEN changes and removals THEN changed objects keep their uid with a new resourceVersion, removed ones are gone from lists and counts, and the same seed picks the same objects', async () => {
    const sim = await startKubeSim({ objects: 3_000, seed: 5 });
    const twin = await startKubeSim({ objects: 3_000, seed: 5 });
    try {
      const namespace = Object.keys(sim.expectedCounts().byNamespace).find((ns) => ns !== '')!;
      const before = sim.expectedCounts();
      const kinds = new Map([
        ['pods', '/api/v1'],
        ['configmaps', '/api/v1'],
        ['secrets', '/api/v1'],
        ['services', '/api/v1'],
        ['deployments.apps', '/apis/apps/v1'],
        ['widgets.example.com', '/apis/example.com/v1'],
      ]);
      const path = (ref: { type: string; namespace: string; name: string }): string =>
        `${kinds.get(ref.type)}/namespaces/${ref.namespace}/${ref.type.split('.')[0]}/${ref.name}`;
      const result = sim.mutate({ change: 6, remove: 4, namespaces: [namespace], seed: 9 });
      assert.deepEqual(twin.mutate({ change: 6, remove: 4, namespaces: [namespace], seed: 9 }), result);
      assert.deepEqual([result.changed.length, result.removed.length], [6, 4]);

      for (const ref of result.changed) {
        assert.equal(ref.namespace, namespace);
        const now = await rawJson<{ metadata: Meta }>(sim, path(ref));
        const fresh = await startKubeSim({ objects: 3_000, seed: 5 });
        const was = await rawJson<{ metadata: Meta }>(fresh, path(ref));
        await fresh.close();
        assert.equal(now.body.metadata.uid, was.body.metadata.uid);
        assert.ok(Number(now.body.metadata.resourceVersion) > Number(was.body.metadata.resourceVersion));
        assert.equal(now.body.metadata.labels?.['kube-sim.example.com/round'], '1');
        assert.deepEqual(Object.keys(now.body.metadata.labels ?? {}), Object.keys(now.body.metadata.labels ?? {}).sort());
      }
      for (const ref of result.removed) assert.equal((await raw(sim, path(ref))).status, 404);

      const after = sim.expectedCounts();
      assert.equal(after.total, before.total - 4);
      assert.equal(after.byNamespace[namespace], before.byNamespace[namespace]! - 4);
      let listed = 0;
      for (const [type, prefix] of kinds)
        listed += (await rawListAll(sim, `${prefix}/namespaces/${namespace}/${type.split('.')[0]}`, METADATA_LIST)).items.length;
      assert.equal(listed, after.byNamespace[namespace]);
      const pods = await rawListAll(sim, '/api/v1/pods', METADATA_LIST);
      assert.equal(pods.items.length, after.byType.pods);
    } finally {
      await sim.close();
      await twin.close();
    }
  });
});

describe('kube-sim over TLS', () => {
  let sim: KubeSim;
  before(async () => {
    sim = await startKubeSim({ objects: 1_000, seed: 2, tls: true });
  });
  after(async () => sim.close());

  it('GIVEN the kubeconfig with its CA THEN the client verifies the server and lists; without the CA THEN it refuses the certificate', async () => {
    const dir = await tempDir('kube-sim-tls-');
    await sim.writeKubeconfig(join(dir, 'kubeconfig'));
    const written = parse(await readFile(join(dir, 'kubeconfig'), 'utf8')) as { clusters: Array<{ cluster: Record<string, unknown> }> };
    assert.equal(written.clusters[0]?.cluster['insecure-skip-tls-verify'], undefined);
    assert.equal(Buffer.from(written.clusters[0]?.cluster['certificate-authority-data'] as string, 'base64').toString(), sim.caPem);

    const kc = await kubeConfig(sim);
    assert.match(sim.url, /^https:/);
    const { items } = await listAll((c) => kc.makeApiClient(CoreV1Api).listNode({ limit: 2, _continue: c }));
    assert.equal(items.length, sim.expectedCounts().byType.nodes);

    const noCa = new KubeConfig();
    noCa.loadFromOptions({
      clusters: [{ name: 'sim', server: sim.url }],
      users: [{ name: 'sim', token: sim.token }],
      contexts: [{ name: 'sim', cluster: 'sim', user: 'sim' }],
      currentContext: 'sim',
    });
    const error = await rejection(noCa.makeApiClient(CoreV1Api).listNode());
    assert.match(String((error as Error & { cause?: Error }).cause ?? error), /self-signed|unable to verify|certificate/i);
  });
});

describe('kube-sim compression', () => {
  it('GIVEN compression and a client that accepts gzip THEN a large list is gzipped and counted compressed, a small answer is not', async () => {
    const sim = await startKubeSim({ objects: 2_000, seed: 4, compression: true });
    const get = (path: string): Promise<{ encoding: string | undefined; body: Buffer }> =>
      new Promise((resolve, reject) => {
        request(`${sim.url}${path}`, { headers: { authorization: `Bearer ${sim.token}`, 'accept-encoding': 'gzip' } }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve({ encoding: res.headers['content-encoding'], body: Buffer.concat(chunks) }));
        })
          .on('error', reject)
          .end();
      });
    try {
      sim.resetStats();
      const large = await get('/api/v1/pods?limit=500');
      assert.equal(large.encoding, 'gzip');
      const text = gunzipSync(large.body).toString();
      assert.equal((JSON.parse(text) as RawList).items.length, 500);
      assert.equal(sim.stats.bytes, large.body.length);
      assert.ok(large.body.length < text.length / 3);
      const small = await get('/api/v1');
      assert.deepEqual([small.encoding, (JSON.parse(small.body.toString()) as { kind: string }).kind], [undefined, 'APIResourceList']);
    } finally {
      await sim.close();
    }
  });
});

describe('kube-sim text', () => {
  it('GIVEN every type in every form, changed or not THEN every object is ASCII (list bodies are written as Latin-1, which only then equals UTF-8)', () => {
    const cluster = new Cluster(4_000, 3);
    cluster.mutate({ change: 600, remove: 50 });
    cluster.mutate({ change: 600 });
    let objects = 0;
    for (const type of RESOURCE_TYPES) {
      const scope = cluster.scope(type);
      for (const pos of cluster.positions(scope, scope.lo)) {
        for (const form of ['object', 'item', 'metadata'] as const) {
          const text = cluster.json(type, pos, form);
          assert.ok(isAscii(Buffer.from(text)), `${type.resource} at ${pos} (${form}) holds a character beyond ASCII`);
        }
        objects++;
      }
    }
    assert.ok(objects > 3_000, `only ${objects} objects were checked`);
  });
});
