import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { createStaging, mergeStaged, STAGING, type MergeInput } from '../../../src/sinks/postgres/merge.js';
import type { Run } from '../../../src/sinks/postgres/transaction.js';
import {
  dropTestDatabases,
  freshDatabase,
  initTables,
  insertItems,
  ITEMS_TABLE,
  storedRows,
  testSinkConfig,
  tupleVersions,
  withClient,
} from '../../support/postgres.js';

/** Rows in staging as a COPY of the store puts them there (pods of the core group). */
async function stage(run: Run, rows: ReadonlyArray<{ namespace: string; name: string; checksum: string }>): Promise<void> {
  for (const r of rows) {
    await run(
      `INSERT INTO ${STAGING} (name, uid, labels, attributes, checksum, resource_version, created_at, namespace, api_group, api_version, kind, resource)
       VALUES ($1, $2, '{}', '{}', $3, '2', NULL, $4, '', 'v1', 'Pod', 'pods')`,
      [r.name, `uid-${r.name}`, r.checksum, r.namespace],
    );
  }
}

describe('postgres sink: the merge of staging into the items table', () => {
  after(dropTestDatabases);

  it('GIVEN stored pods and configmaps in three namespaces and another cluster WHEN a staged shard with one row unchanged, one changed and one new is merged, pods being the only complete type THEN only the changed and new rows are written, and only the pod of the vanished namespace is deleted', async () => {
    const url = await freshDatabase();
    await initTables(url, testSinkConfig());
    await withClient(url, (client) =>
      insertItems(client, ITEMS_TABLE, [
        { cluster: 'c1', namespace: 'a', name: 'same', checksum: 'c-same' },
        { cluster: 'c1', namespace: 'a', name: 'edited', checksum: 'c-old' },
        { cluster: 'c1', namespace: 'a', name: 'settings', resource: 'configmaps', checksum: 'c-cm' },
        { cluster: 'c1', namespace: 'b', name: 'quiet', checksum: 'c-quiet' },
        { cluster: 'c1', namespace: 'c', name: 'gone', checksum: 'c-gone' },
        { cluster: 'c2', namespace: 'c', name: 'gone', checksum: 'c-other' },
      ]),
    );
    const before = await tupleVersions(url, ITEMS_TABLE, 'c1');
    const merge: MergeInput = {
      cluster: 'c1',
      collectedAt: '2026-01-02T03:04:05.000Z',
      deletable: { listed: ['/pods'], complete: ['/pods'], partial: [], held: [], scope: ['/pods'], failedGroups: [] },
      staged: 3,
      unchanged: [{ key: 'b', rows: 1 }],
      heldBefore: 5,
    };

    const result = await withClient(url, async (client) => {
      const run: Run = (sql, params) => client.query(sql, params);
      await client.query('BEGIN');
      await createStaging(run);
      await stage(run, [
        { namespace: 'a', name: 'same', checksum: 'c-same' },
        { namespace: 'a', name: 'edited', checksum: 'c-new' },
        { namespace: 'a', name: 'added', checksum: 'c-added' },
      ]);
      const merged = await mergeStaged(run, ITEMS_TABLE, merge);
      await client.query('COMMIT');
      return merged;
    });

    assert.deepEqual(result.written, new Map([['a', { inserted: 1, updated: 1 }]]));
    assert.deepEqual(result.deleted, new Map([['c', 1]]));
    assert.deepEqual(
      await storedRows(url, ITEMS_TABLE, 'c1'),
      new Map([
        ['a/same/uid-same', 'c-same'],
        ['a/edited/uid-edited', 'c-new'],
        ['a/added/uid-added', 'c-added'],
        ['a/settings/uid-settings', 'c-cm'],
        ['b/quiet/uid-quiet', 'c-quiet'],
      ]),
    );
    const afterMerge = await tupleVersions(url, ITEMS_TABLE, 'c1');
    for (const untouched of ['a/same/uid-same', 'a/settings/uid-settings', 'b/quiet/uid-quiet'])
      assert.equal(afterMerge.get(untouched), before.get(untouched), `${untouched} was rewritten`);
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c2'), new Map([['c/gone/uid-gone', 'c-other']]));
  });
});
