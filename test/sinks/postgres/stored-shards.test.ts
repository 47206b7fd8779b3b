import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { storedShards } from '../../../src/sinks/postgres/stored-shards.js';
import type { Run } from '../../../src/sinks/postgres/transaction.js';
import { FingerprintAccumulator } from '../../../src/store/fingerprint.js';
import { dropTestDatabases, freshDatabase, initTables, insertItems, ITEMS_TABLE, testSinkConfig, type ItemRow } from '../../support/postgres.js';

/** Checksums at the edges of the two signed 64-bit halves the SQL reads them as. */
const CHECKSUMS = [
  'ffffffffffffffffffffffffffffffff',
  '7fffffffffffffff8000000000000000',
  '80000000000000007fffffffffffffff',
  '00000000000000000000000000000001',
  '0123456789abcdef0123456789abcdef',
  'fedcba9876543210fedcba9876543210',
];

/** The fingerprint the store gives a shard of these checksums. */
function storeFingerprint(checksums: readonly string[]): string {
  const accumulator = new FingerprintAccumulator();
  for (const checksum of checksums) accumulator.add(checksum);
  return accumulator.digest();
}

describe('postgres sink: the stored rows per shard', () => {
  let url: string;
  let client: pg.Client;
  const run: Run = (sql, params) => client.query(sql, params);

  before(async () => {
    url = await freshDatabase();
    await initTables(url, testSinkConfig());
  });
  after(async () => {
    await client?.end();
    await dropTestDatabases();
  });

  it('GIVEN rows of two namespaces and cluster-scoped ones, their checksums at the edges of 64-bit halves WHEN summed in SQL THEN each shard has its row count and the fingerprint the store computes', async () => {
    const rows: ItemRow[] = [
      ...CHECKSUMS.map((checksum, i) => ({ cluster: 'c1', namespace: 'apps', name: `p${i}`, checksum })),
      ...CHECKSUMS.slice(0, 2).map((checksum, i) => ({ cluster: 'c1', namespace: 'web', name: `w${i}`, checksum })),
      { cluster: 'c1', namespace: '', name: 'node-1', resource: 'nodes', checksum: CHECKSUMS[4]! },
      { cluster: 'c2', namespace: 'apps', name: 'other', checksum: CHECKSUMS[3]! },
    ];
    client = new pg.Client({ connectionString: url });
    await client.connect();
    await insertItems(client, ITEMS_TABLE, rows);

    await client.query('BEGIN');
    const shards = await storedShards(run, ITEMS_TABLE, 'c1');
    await client.query('COMMIT');

    assert.deepEqual(
      shards,
      new Map([
        ['apps', { rows: 6, fingerprint: storeFingerprint(CHECKSUMS) }],
        ['web', { rows: 2, fingerprint: storeFingerprint(CHECKSUMS.slice(0, 2)) }],
        ['_cluster', { rows: 1, fingerprint: storeFingerprint([CHECKSUMS[4]!]) }],
      ]),
    );
  });

  it('GIVEN a stored checksum that is not 32 hex digits WHEN summed THEN only the counts come back, and the transaction goes on', async () => {
    await insertItems(client, ITEMS_TABLE, [
      { cluster: 'c3', namespace: 'apps', name: 'odd', checksum: 'not a checksum' },
      { cluster: 'c3', namespace: 'web', name: 'w', checksum: CHECKSUMS[0]! },
    ]);

    await client.query('BEGIN');
    const shards = await storedShards(run, ITEMS_TABLE, 'c3');
    const after = await client.query<{ one: number }>('SELECT 1 AS one');
    await client.query('COMMIT');

    assert.deepEqual(
      shards,
      new Map([
        ['apps', { rows: 1 }],
        ['web', { rows: 1 }],
      ]),
    );
    assert.equal(after.rows[0]?.one, 1);
  });
});
