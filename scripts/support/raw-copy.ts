import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import type * as CopyRowsModule from '../../src/sinks/postgres/copy-rows.js';
import type * as StoreModule from '../../src/store/collect-store.js';
import { withClient } from '../../test/support/postgres.js';
import { compiled } from './build-kollect.js';

/**
 * The benchmarks' floor for the database part: the store's rows COPYed into an UNLOGGED table
 * without index, as the COPY text of the sink's own encoder (copyRowsSource) into columns typed
 * as the sink's (STAGING_COLUMNS), with the cluster appended to every line as the sink's first
 * export does. The store's reader and encoder are the built kollect's, from dist/, as the kollect
 * measured against it runs them. Returns the time of the COPY, from the first row read.
 */
export async function rawCopy(url: string, storeDir: string): Promise<number> {
  const { copyRowsSource, STAGING_COLUMN_LIST, STAGING_COLUMNS } = await compiled<typeof CopyRowsModule>('sinks/postgres/copy-rows.js');
  const store = await (await compiled<typeof StoreModule>('store/collect-store.js')).CollectStore.open(storeDir);
  return withClient(url, async (client) => {
    await client.query('DROP TABLE IF EXISTS bench_raw_copy');
    await client.query(
      `CREATE UNLOGGED TABLE bench_raw_copy (${Object.entries(STAGING_COLUMNS)
        .map(([column, type]) => `${column} ${type}`)
        .join(', ')}, cluster text)`,
    );
    try {
      const started = performance.now();
      await pipeline(
        copyRowsSource(store, { constants: [store.cluster] }),
        client.query(copyFrom(`COPY bench_raw_copy (${STAGING_COLUMN_LIST}, cluster) FROM STDIN`)),
      );
      return performance.now() - started;
    } finally {
      await store.close();
      await client.query('DROP TABLE IF EXISTS bench_raw_copy');
    }
  });
}
