import { runKollect } from '../../test/support/cli.js';
import { withClient } from '../../test/support/postgres.js';

/**
 * The items table partitioned by LIST (cluster), as a DBA creates it from
 * `kollect db ddl --partition-by cluster -c CONFIG` (with a partition for the config's cluster
 * and a default one), for the benchmarks that compare it with the plain table.
 */
export async function createPartitioned(databaseUrl: string, config: string, env: NodeJS.ProcessEnv): Promise<void> {
  const ddl = await runKollect(['db', 'ddl', '--partition-by', 'cluster', '-c', config], { env });
  if (ddl.code !== 0) throw new Error(`kollect db ddl failed: ${ddl.stderr}`);
  await withClient(databaseUrl, (client) => client.query(ddl.stdout));
}

/** One partition per cluster of `public.<table>`, named as the DDL's comment shows (cluster names here are plain: letters, digits, '-'). */
export async function addClusterPartitions(databaseUrl: string, table: string, clusters: readonly string[]): Promise<void> {
  await withClient(databaseUrl, async (client) => {
    for (const cluster of clusters) {
      await client.query(
        `CREATE TABLE IF NOT EXISTS public.${table}_c_${cluster.replace(/-/g, '_')} PARTITION OF public.${table} FOR VALUES IN ('${cluster}')`,
      );
    }
  });
}
