import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ResourceNotServedError, TooManyTypesError } from '../../src/errors.js';
import { createKubeClient, type KubeClient } from '../../src/kube/client.js';
import { discover, type ResourceRequest } from '../../src/kube/discovery.js';
import { loadKubeConfig } from '../../src/kube/kubeconfig.js';
import { resourceTypeKey } from '../../src/rows/row.js';
import { writeKubeconfig } from '../support/kube-sim/kubeconfig.js';
import { tempDir } from '../support/store-fixture.js';

const FIXTURES = new URL('../fixtures/kube-apiserver-v1.20.2/', import.meta.url);

/** The discovery documents a real kube-apiserver v1.20.2 answered, by path; anything else gets its recorded 404. */
const RECORDED: Record<string, string> = {
  '/api': 'discovery-api',
  '/apis': 'discovery-apis',
  '/api/v1': 'discovery-api-v1',
  '/apis/apps/v1': 'discovery-apps-v1',
  '/apis/example.com/v1': 'discovery-example-v1',
};

/** Replays the recorded answers byte for byte: the status line and headers, then the body. */
function recorded(name: string): { status: number; headers: Record<string, string>; body: Buffer } {
  const [statusLine = '', ...headerLines] = readFileSync(new URL(`${name}.headers`, FIXTURES), 'utf8').split('\n');
  const headers = Object.fromEntries(
    headerLines.filter((line) => line.includes(':')).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()]),
  );
  return { status: Number(statusLine.split(' ')[1]), headers, body: readFileSync(new URL(`${name}.json`, FIXTURES)) };
}

const deps = { sleep: async () => undefined, random: () => 0.5, signal: new AbortController().signal };
const POLICY = { retries: 0, timeout: 5_000 };

describe('discovery resolves the configured resources on the recorded discovery documents', () => {
  let server: Server;
  let client: KubeClient;
  before(async () => {
    server = createServer((req, res) => {
      const answer = recorded(RECORDED[(req.url ?? '').split('?')[0]!] ?? 'not-found-resource');
      res.writeHead(answer.status, answer.headers).end(answer.body);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const kubeconfig = join(await tempDir('kollect-discovery-'), 'kubeconfig');
    await writeKubeconfig(kubeconfig, { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, token: 'recorded' });
    client = createKubeClient(loadKubeConfig({ kubeconfig }));
  });
  after(async () => {
    client.close();
    await new Promise((resolve) => server.close(resolve));
  });

  const keys = (types: Array<{ group: string; resource: string; version: string }>): string[] => types.map((t) => `${resourceTypeKey(t)}/${t.version}`);

  it('GIVEN resource "*" of the core group and exclude events WHEN resolved THEN every listable core type at v1, no subresource, no bindings, no events', async () => {
    const { types, notServed, failed } = await discover(client, { resources: [{ group: '', resource: '*' }], exclude: ['events'] }, POLICY, deps);
    assert.deepEqual(keys(types), [
      'componentstatuses/v1',
      'configmaps/v1',
      'endpoints/v1',
      'limitranges/v1',
      'namespaces/v1',
      'nodes/v1',
      'persistentvolumeclaims/v1',
      'persistentvolumes/v1',
      'pods/v1',
      'podtemplates/v1',
      'replicationcontrollers/v1',
      'resourcequotas/v1',
      'secrets/v1',
      'serviceaccounts/v1',
      'services/v1',
    ]);
    assert.deepEqual([notServed, failed], [[], []]);
  });

  it('GIVEN resource "*" of group apps without a version WHEN resolved THEN the group\'s preferred version from /apis, and a named type keeps its own selector', async () => {
    const named: ResourceRequest = { group: 'apps', version: 'v1', resource: 'deployments', labelSelector: 'app!=canary' };
    const wildcard: ResourceRequest = { group: 'apps', resource: '*' };
    const { types } = await discover(client, { resources: [wildcard, named] }, POLICY, deps);
    assert.deepEqual(keys(types), ['controllerrevisions.apps/v1', 'daemonsets.apps/v1', 'replicasets.apps/v1', 'statefulsets.apps/v1', 'deployments.apps/v1']);
    assert.equal(types.find((t) => t.resource === 'deployments')?.configured, named);
    assert.equal(types.find((t) => t.resource === 'daemonsets')?.configured, wildcard);
  });

  const notServedCases: Array<{ name: string; resources: ResourceRequest[]; notServed: Array<{ group: string; resource: string }> }> = [
    {
      name: 'an optional type its group does not serve',
      resources: [{ group: 'example.com', version: 'v1', resource: 'gadgets', optional: true }],
      notServed: [{ group: 'example.com', resource: 'gadgets' }],
    },
    {
      name: 'an optional type of a group version not served',
      resources: [{ group: 'example.com', version: 'v2', resource: 'widgets', optional: true }],
      notServed: [{ group: 'example.com', resource: 'widgets' }],
    },
    {
      name: 'an optional wildcard of a group the server lacks',
      resources: [{ group: 'cert-manager.io', resource: '*', optional: true }],
      notServed: [{ group: 'cert-manager.io', resource: '*' }],
    },
  ];
  for (const c of notServedCases) {
    it(`GIVEN ${c.name} WHEN resolved THEN it is not served, listed nowhere, and no error`, async () => {
      const resources = [{ group: 'example.com', version: 'v1', resource: 'widgets', optional: true }, ...c.resources];
      const { types, notServed } = await discover(client, { resources }, POLICY, deps);
      assert.deepEqual(keys(types), ['widgets.example.com/v1']);
      assert.deepEqual(
        notServed.map(({ group, resource }) => ({ group, resource })),
        c.notServed,
      );
    });
  }

  it('GIVEN the same types not optional WHEN resolved THEN RESOURCE_NOT_SERVED names each', async () => {
    await assert.rejects(
      discover(
        client,
        {
          resources: [
            { group: 'example.com', version: 'v1', resource: 'gadgets' },
            { group: 'cert-manager.io', resource: '*' },
          ],
        },
        POLICY,
        deps,
      ),
      (error: unknown) =>
        error instanceof ResourceNotServedError &&
        /gadgets\.example\.com is not served in example\.com\/v1/.test(error.message) &&
        /group cert-manager\.io is not served/.test(error.message),
    );
  });

  it('GIVEN wildcards that resolve to more types than list.maxTypes WHEN resolved THEN TOO_MANY_TYPES, exit 2, naming the count and the cap', async () => {
    await assert.rejects(
      discover(client, { resources: [{ group: '', resource: '*' }], maxTypes: 5 }, POLICY, deps),
      (error: unknown) => error instanceof TooManyTypesError && error.exitCode === 2 && error.data.types === 16 && error.data.maxTypes === 5,
    );
  });

  it('GIVEN group "*" WHEN resolved THEN the core group and every group /apis lists at its preferred version; groups /apis lists but that answer 404 are not served', async () => {
    const { types, notServed } = await discover(client, { resources: [{ group: '*', resource: '*' }], exclude: ['events', 'componentstatuses'] }, POLICY, deps);
    assert.ok(keys(types).includes('pods/v1'));
    assert.ok(keys(types).includes('deployments.apps/v1'));
    assert.ok(keys(types).includes('widgets.example.com/v1'));
    assert.ok(!keys(types).some((k) => k.startsWith('events') || k.startsWith('componentstatuses')));
    assert.ok(notServed.some((n) => n.group === 'batch' && n.version === 'v1'));
  });
});
