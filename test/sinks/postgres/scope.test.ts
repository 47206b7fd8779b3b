import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Row } from '../../../src/rows/row.js';
import { createPostgresSink } from '../../../src/sinks/postgres/postgres-sink.js';
import {
  dropTestDatabases,
  exportStore,
  freshDatabase,
  initTables,
  ITEMS_TABLE,
  sinkDeps,
  startPostgres,
  storedRows,
  testContext,
  testSinkConfig,
} from '../../support/postgres.js';
import { storeOf, syntheticRows, type BuildStoreOptions } from '../../support/store-fixture.js';

const config = testSinkConfig();
const BASE = { cluster: 'c1', count: 3_000, namespaces: 6 };
const key = (row: Row): string => `${row.namespace}/${row.name}/${row.uid}`;

interface Case {
  name: string;
  /** The second collection, as the store records it. */
  options: BuildStoreOptions;
  /** Which rows of the first export the second one keeps although its store lacks them. */
  kept: (row: Row) => boolean;
}

/** What the store is the whole truth about, per (type, namespace): the rows it lacks go, all others stay. */
const cases: Case[] = [
  {
    name: 'pods listed namespace by namespace, forbidden in ns-001',
    options: { forbiddenNamespaces: { pods: ['ns-001'] } },
    kept: (row) => row.resource === 'pods' && row.namespace === 'ns-001',
  },
  {
    name: 'deployments.apps not served any more (an optional type, covered by the configuration)',
    options: { unlisted: ['deployments'], discovery: { notServed: [{ group: 'apps', version: 'v1', resource: 'deployments' }] } },
    kept: () => false,
  },
  {
    name: 'deployments.apps left out by a wildcard of its group and exclude',
    options: {
      unlisted: ['deployments'],
      discovery: {
        scope: [
          { group: '', resource: '*' },
          { group: 'apps', resource: '*' },
        ],
      },
    },
    kept: () => false,
  },
  {
    name: 'deployments.apps unlisted because the discovery of apps/v1 failed (503)',
    options: { unlisted: ['deployments'], discovery: { discoveryFailed: [{ group: 'apps', version: 'v1', message: 'service unavailable' }] } },
    kept: (row) => row.apiGroup === 'apps',
  },
  {
    name: 'deployments.apps no longer in a configuration that covers it nowhere',
    options: { unlisted: ['deployments'], discovery: { scope: [{ group: '', resource: '*' }] } },
    kept: (row) => row.apiGroup === 'apps',
  },
];

describe('postgres sink: what a store may delete, per type and namespace', () => {
  before(async () => {
    await startPostgres();
  });
  after(dropTestDatabases);

  for (const c of cases) {
    it(`GIVEN an exported cluster WHEN ${c.name} and 2% of every other object removed THEN plan and apply delete exactly the absent rows the store is the truth about`, async () => {
      const url = await freshDatabase();
      await initTables(url, config);
      const first = [...syntheticRows(BASE)];
      await exportStore(url, await storeOf('c1', first, {}));
      const next = [...syntheticRows({ ...BASE, removedFraction: 0.02 })].filter((row) => !c.kept(row));
      const store = await storeOf('c1', next, c.options);
      const listed = new Set(store.resources.map((r) => r.resource));
      const present = new Set(next.filter((row) => listed.has(row.resource)).map(key));
      const expectedKept = first.filter((row) => present.has(key(row)) || c.kept(row));

      const sink = createPostgresSink(config, sinkDeps(url));
      const plan = await sink.plan(store, testContext());
      const result = await sink.apply(store, testContext());
      await sink.close();

      assert.equal(result.totals.removed, first.length - expectedKept.length);
      assert.ok(result.totals.removed > 0);
      assert.deepEqual(plan.totals, result.totals);
      assert.deepEqual([...(await storedRows(url, ITEMS_TABLE, 'c1')).keys()].sort(), expectedKept.map(key).sort());
    });
  }
});
