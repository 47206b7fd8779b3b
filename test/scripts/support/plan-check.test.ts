import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { startNoticeProxy } from '../../../scripts/support/notice-proxy.js';
import { explainedExport, planFaults } from '../../../scripts/support/plan-check.js';
import { explainEveryStatement } from '../../support/plan-nodes.js';
import { dropTestDatabases, exportStore, freshDatabase, initTables, testSinkConfig, withClient, writePostgresConfig } from '../../support/postgres.js';
import { buildStore, storeOf, syntheticRows, tempDir } from '../../support/store-fixture.js';

/**
 * bench:scale's plan check, on the built CLI (run `npm run build` first): the plans come off the
 * wire between kollect and the server, and a sequential scan of other clusters' rows is found.
 */
describe('bench:scale: the plans of an export, read through the notice proxy', () => {
  after(dropTestDatabases);

  const cases = [
    { scene: 'the primary key usable', settings: [], faults: false },
    { scene: 'index scans turned off for the database', settings: ['enable_indexscan', 'enable_indexonlyscan', 'enable_bitmapscan'], faults: true },
  ];
  for (const { scene, settings, faults } of cases) {
    it(`GIVEN a table holding another cluster's rows and ${scene} WHEN a new cluster exports, then exports 1% changed THEN ${faults ? 'a seq scan of the table is reported' : 'no plan is faulted'}`, async () => {
      const url = await freshDatabase();
      await initTables(url, testSinkConfig());
      await exportStore(url, await storeOf('c0', syntheticRows({ cluster: 'c0', count: 5_000 })));
      // Statistics stay those of the other cluster's rows: here the new cluster's 2,000 rows are 28%
      // of the table (in a fleet, well under 1%), and an autoanalyze between its two exports would
      // rightly make a seq scan the cheaper plan, which the check then reports.
      await withClient(url, async (c) => {
        await c.query('ANALYZE public.kollect_items');
        await c.query('ALTER TABLE public.kollect_items SET (autovacuum_enabled = false)');
      });
      const dir = await tempDir();
      const shape = { cluster: 'c1', count: 2_000 };
      const stores = [join(dir, 'first'), join(dir, 'changed')];
      await buildStore(stores[0]!, 'c1', syntheticRows(shape));
      await buildStore(stores[1]!, 'c1', syntheticRows({ ...shape, changedFraction: 0.01, revision: 2 }));
      const config = await writePostgresConfig(dir, 'c1');
      const database = new URL(url).pathname.slice(1);
      await withClient(url, async (c) => {
        for (const setting of settings) await c.query(`ALTER DATABASE "${database}" SET ${setting} = off`);
      });
      await explainEveryStatement(url);
      const proxy = await startNoticeProxy(url);
      const found: string[] = [];
      try {
        for (const store of stores) {
          const { plans } = await explainedExport(proxy, store, config);
          found.push(...plans.flatMap((plan) => planFaults(plan, { table: 'kollect_items', partitioned: false, cluster: 'c1', otherRows: 5_000 })));
        }
      } finally {
        await proxy.close();
      }

      if (faults)
        assert.ok(
          found.some((fault) => fault.startsWith('seq scan of kollect_items in: ')),
          found.join('\n'),
        );
      else assert.deepEqual(found, []);
    });
  }
});
