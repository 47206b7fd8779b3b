import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ContinueExpiredError, InterruptedError, KubeApiError, KubeUnreachableError, ResourceNotServedError } from '../../src/errors.js';
import { createKubeClient, type KubeClient } from '../../src/kube/client.js';
import { discover, type DiscoveredType } from '../../src/kube/discovery.js';
import { loadKubeConfig } from '../../src/kube/kubeconfig.js';
import type { RetryInfo } from '../../src/kube/request.js';
import type { KubeObject } from '../../src/rows/project.js';
import { startKubeSim, type KubeSim } from '../support/kube-sim/index.js';
import { listPages, type ListEvent } from '../support/list-pages.js';
import { tempDir } from '../support/store-fixture.js';

const SETTINGS = { pageSize: 500, concurrency: 4, retries: 3, relists: 2, timeout: 10_000, metadataOnly: false, fastParse: true };

/** Deps that record every backoff instead of sleeping through it. */
function recordingDeps(): { deps: Parameters<typeof listPages>[3]; sleeps: number[]; retries: RetryInfo[] } {
  const sleeps: number[] = [];
  const retries: RetryInfo[] = [];
  return {
    sleeps,
    retries,
    deps: {
      sleep: async (ms) => {
        sleeps.push(ms);
      },
      random: () => 0.5,
      signal: new AbortController().signal,
      onRetry: (retry) => retries.push(retry),
    },
  };
}

/** Drains a list the way collect does: a restart voids what came before. */
async function drain(events: AsyncIterable<ListEvent>): Promise<{ items: KubeObject[]; restarts: number; forbidden?: string }> {
  let items: KubeObject[] = [];
  let restarts = 0;
  for await (const event of events) {
    if (event.kind === 'page') items.push(...event.items);
    else if (event.kind === 'restart') {
      restarts++;
      items = [];
    } else return { items, restarts, forbidden: event.message };
  }
  return { items, restarts };
}

async function clientFor(sim: KubeSim, options: { withToken?: boolean } = {}): Promise<KubeClient> {
  const path = join(await tempDir('kollect-pager-'), 'kubeconfig');
  await sim.writeKubeconfig(path, options);
  return createKubeClient(loadKubeConfig({ kubeconfig: path }));
}

describe('the pager against the local API server', () => {
  let sim: KubeSim;
  let client: KubeClient;
  let pods: DiscoveredType;
  before(async () => {
    sim = await startKubeSim({ objects: 6_000, seed: 3 });
    client = await clientFor(sim);
    const { deps } = recordingDeps();
    const {
      types: [discovered],
    } = await discover(client, { resources: [{ group: '', version: 'v1', resource: 'pods' }] }, { retries: 0, timeout: 5_000 }, deps);
    pods = discovered!;
  });
  after(async () => {
    client.close();
    await sim.close();
  });

  it('GIVEN the configured types THEN discovery finds kind, scope and verbs, including a CRD and a beta API', async () => {
    const { deps } = recordingDeps();
    const { types } = await discover(
      client,
      {
        resources: [
          { group: '', version: 'v1', resource: 'nodes' },
          { group: 'example.com', version: 'v1', resource: 'widgets' },
          { group: 'policy', version: 'v1beta1', resource: 'poddisruptionbudgets' },
        ],
      },
      { retries: 0, timeout: 5_000 },
      deps,
    );
    assert.deepEqual(
      types.map((t) => [t.kind, t.namespaced, t.verbs.includes('list')]),
      [
        ['Node', false, true],
        ['Widget', true, true],
        ['PodDisruptionBudget', true, true],
      ],
    );
    assert.equal(pods.kind, 'Pod');
  });

  it("GIVEN types the server does not serve THEN one error lists every problem, in the configuration's order", async () => {
    const { deps } = recordingDeps();
    await assert.rejects(
      discover(
        client,
        {
          resources: [
            { group: '', version: 'v1', resource: 'podz' },
            { group: 'apps', version: 'v1beta9', resource: 'deployments' },
            { group: 'nothere.io', version: 'v1', resource: 'things' },
          ],
        },
        { retries: 0, timeout: 5_000 },
        deps,
      ),
      (error: unknown) =>
        error instanceof ResourceNotServedError &&
        /podz is not served in v1; it serves: .*pods/.test(error.message) &&
        /apps\/v1beta9 is not served .*group apps serves: v1/.test(error.message) &&
        /nothere\.io\/v1 is not served .*not served at all/.test(error.message) &&
        // told in the configuration's order, though the group versions are asked at once
        /podz[\s\S]*v1beta9[\s\S]*nothere/.test(error.message),
    );
  });

  for (const fastParse of [true, false]) {
    it(`GIVEN page size 500 and list.fastParse ${fastParse} THEN every pod arrives exactly once, page by page`, async () => {
      const { deps } = recordingDeps();
      const pages: number[] = [];
      let items = 0;
      const uids = new Set<string>();
      for await (const event of listPages(client, pods, { ...SETTINGS, fastParse }, deps)) {
        assert.equal(event.kind, 'page');
        if (event.kind !== 'page') continue;
        pages.push(event.items.length);
        items += event.items.length;
        for (const item of event.items) uids.add(item.metadata!.uid!);
      }
      const expected = sim.expectedCounts().byType.pods!;
      assert.equal(items, expected);
      assert.equal(uids.size, expected);
      assert.equal(pages.length, Math.ceil(expected / 500));
      assert.ok(pages.slice(0, -1).every((n) => n === 500));
    });

    it(`GIVEN a 410 on page 3 and list.fastParse ${fastParse} THEN the list restarts once and still yields every pod exactly once`, async () => {
      const { deps } = recordingDeps();
      sim.inject({ kind: 'status', status: 410, resource: 'pods', page: 3 });
      const { items, restarts } = await drain(listPages(client, pods, { ...SETTINGS, fastParse }, deps));
      sim.clearFaults();
      assert.equal(restarts, 1);
      assert.equal(new Set(items.map((i) => i.metadata!.uid)).size, sim.expectedCounts().byType.pods);
      assert.equal(items.length, sim.expectedCounts().byType.pods);
    });
  }

  it('GIVEN the continue token expires more often than list.relists THEN ContinueExpiredError', async () => {
    const { deps } = recordingDeps();
    sim.inject({ kind: 'status', status: 410, resource: 'pods', page: 2, times: Infinity });
    await assert.rejects(drain(listPages(client, pods, SETTINGS, deps)), ContinueExpiredError);
    sim.clearFaults();
  });

  it('GIVEN a 429 with Retry-After, a 500 and a dropped connection THEN each is retried, honouring Retry-After', async () => {
    const { deps, sleeps, retries } = recordingDeps();
    sim.inject({ kind: 'status', status: 429, resource: 'pods', page: 2, retryAfterSeconds: 3 });
    sim.inject({ kind: 'status', status: 500, resource: 'pods', page: 3 });
    sim.inject({ kind: 'drop', resource: 'pods', page: 4 });
    const { items } = await drain(listPages(client, pods, SETTINGS, deps));
    sim.clearFaults();
    assert.equal(items.length, sim.expectedCounts().byType.pods);
    assert.deepEqual(
      retries.map((r) => (r.reason.startsWith('GET') ? 'dropped' : r.reason)),
      ['429', '500', 'dropped'],
    );
    assert.ok(sleeps[0]! >= 3000 && sleeps[0]! < 3500, `Retry-After 3 s, slept ${sleeps[0]} ms`);
    assert.ok(sleeps[1]! > 0 && sleeps[1]! <= 250, `first backoff is short, slept ${sleeps[1]} ms`);
  });

  it('GIVEN a server that keeps failing THEN the retries are bounded and the error says so', async () => {
    const { deps, sleeps } = recordingDeps();
    sim.inject({ kind: 'status', status: 503, resource: 'pods', times: Infinity });
    await assert.rejects(
      drain(listPages(client, pods, SETTINGS, deps)),
      (e: unknown) => e instanceof KubeApiError && /503/.test(e.message) && /gave up after 4 attempts/.test(e.message),
    );
    sim.clearFaults();
    assert.equal(sleeps.length, 3);
    assert.ok(sleeps[0]! < sleeps[1]! && sleeps[1]! < sleeps[2]!, `backoff grows: ${sleeps.join(', ')}`);
  });

  it('GIVEN the run is aborted while a retry waits THEN InterruptedError, not a network error', async () => {
    const controller = new AbortController();
    const deps = {
      sleep: async (): Promise<void> => {
        controller.abort(new Error('SIGTERM received'));
        throw controller.signal.reason;
      },
      random: () => 0.5,
      signal: controller.signal,
    };
    sim.inject({ kind: 'status', status: 503, resource: 'pods', times: Infinity });
    await assert.rejects(drain(listPages(client, pods, SETTINGS, deps)), InterruptedError);
    sim.clearFaults();
    const aborted = AbortSignal.abort(new Error('SIGTERM received'));
    await assert.rejects(
      discover(client, { resources: [{ group: '', version: 'v1', resource: 'pods' }] }, { retries: 0, timeout: 5_000 }, { ...deps, signal: aborted }),
      InterruptedError,
    );
  });

  it('GIVEN a 403 THEN a forbidden event with the server message, and nothing else', async () => {
    const { deps } = recordingDeps();
    sim.inject({ kind: 'status', status: 403, resource: 'pods', times: Infinity });
    const { items, forbidden } = await drain(listPages(client, pods, SETTINGS, deps));
    sim.clearFaults();
    assert.equal(items.length, 0);
    assert.match(forbidden ?? '', /forbidden/i);
  });

  it('GIVEN a metadata-only list THEN items carry metadata and no spec or status', async () => {
    const { deps } = recordingDeps();
    sim.resetStats();
    const { items } = await drain(listPages(client, pods, { ...SETTINGS, metadataOnly: true }, deps));
    const leanBytes = sim.stats.bytes;
    assert.equal(items.length, sim.expectedCounts().byType.pods);
    assert.ok(items.every((i) => i.metadata?.uid && i.spec === undefined && i.status === undefined));
    sim.resetStats();
    await drain(listPages(client, pods, SETTINGS, deps));
    assert.ok(sim.stats.bytes >= 3 * leanBytes, `full ${sim.stats.bytes} vs metadata ${leanBytes}`);
  });

  it('GIVEN no token THEN 401 is a KubeApiError that says the credentials were refused', async () => {
    const anonymous = await clientFor(sim, { withToken: false });
    const { deps } = recordingDeps();
    await assert.rejects(
      drain(listPages(anonymous, pods, SETTINGS, deps)),
      (e: unknown) => e instanceof KubeApiError && /401/.test(e.message) && /credentials/.test(e.message),
    );
    anonymous.close();
  });
});

describe('the pager over TLS', () => {
  it('GIVEN a server with its own CA THEN the kubeconfig CA verifies it; without it the connection is refused', async () => {
    const sim = await startKubeSim({ objects: 500, seed: 5, tls: true });
    try {
      const client = await clientFor(sim);
      const { deps } = recordingDeps();
      const {
        types: [nodes],
      } = await discover(client, { resources: [{ group: '', version: 'v1', resource: 'nodes' }] }, { retries: 0, timeout: 5_000 }, deps);
      const { items } = await drain(listPages(client, nodes!, SETTINGS, deps));
      assert.equal(items.length, sim.expectedCounts().byType.nodes);
      client.close();

      const path = join(await tempDir('kollect-pager-'), 'kubeconfig');
      await sim.writeKubeconfig(path);
      const kc = loadKubeConfig({ kubeconfig: path });
      const cluster = kc.getCurrentCluster()!;
      kc.clusters = [{ ...cluster, caData: undefined, caFile: undefined }];
      const untrusting = createKubeClient(kc);
      await assert.rejects(untrusting.get('/api/v1'), (e: unknown) => e instanceof KubeUnreachableError && /certificate/i.test(e.message));
      untrusting.close();
    } finally {
      await sim.close();
    }
  });
});
