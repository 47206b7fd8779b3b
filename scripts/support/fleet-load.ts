import { pipeline } from 'node:stream/promises';
import { from as copyFrom } from 'pg-copy-streams';
import { rowChecksum } from '../../src/rows/project.js';
import type { Row } from '../../src/rows/row.js';
import type { ChangeCounts } from '../../src/sinks/sink.js';
import type * as CopyRowsModule from '../../src/sinks/postgres/copy-rows.js';
import type * as StoreModule from '../../src/store/collect-store.js';
import { withClient } from '../../test/support/postgres.js';
import { syntheticRows, type SyntheticOptions } from '../../test/support/store-fixture.js';
import { compiled, KOLLECT } from './build-kollect.js';
import { measuredChild } from './measured-child.js';

/**
 * What the fleet benchmarks need beside kollect: stores shaped like a cluster's, and the rows of
 * clusters that are not measured, loaded and churned fast.
 */

/**
 * Namespaces for a store of `rows` rows: shards of ~1,400 rows, under the seed's 1,800 warning
 * line. Odd, because syntheticRows picks the type by i % 4: with a count divisible by 2 some
 * namespaces would only get cluster-scoped rows and never exist.
 */
export function namespacesFor(rows: number): number {
  const n = Math.max(1, Math.ceil((rows * 0.75) / 1400));
  return n % 2 === 0 ? n + 1 : n;
}

/** The namespace a fleet cluster adds (bench:scale's "namespace added"). */
export const ADDED_NAMESPACE = 'ns-added';

/**
 * The synthetic rows of `options`, plus a namespace of its own (ADDED_NAMESPACE) holding
 * `addedRows` namespaced rows, named as the others are: a team's new namespace, one shard.
 */
export function* withAddedNamespace(options: SyntheticOptions, addedRows: number): Generator<Row> {
  yield* syntheticRows(options);
  let added = 0;
  for (const row of syntheticRows({ ...options, namespaces: 1, changedFraction: undefined, removedFraction: undefined, count: addedRows * 2 })) {
    if (added === addedRows) return;
    if (row.namespace === '') continue;
    const moved = { ...row, namespace: ADDED_NAMESPACE };
    moved.checksum = rowChecksum(moved);
    added++;
    yield moved;
  }
}

/**
 * COPYs the rows of the collect store `templateDir` into `public.<table>` once per cluster of
 * `clusters`, as that cluster's rows, `parallel` COPYs at a time: the same COPY text (the built
 * kollect's encoder, copyRowsSource) and the same constants as kollect's first export of a cluster,
 * without its transaction, lock and runs row. Rows of clusters that bench:scale does not
 * measure, a whole store's in a fraction of a process's time.
 */
export async function copyClusters(url: string, table: string, templateDir: string, clusters: readonly string[], parallel = 2): Promise<void> {
  const { copyRowsSource, STAGING_COLUMN_LIST } = await compiled<typeof CopyRowsModule>('sinks/postgres/copy-rows.js');
  const { CollectStore } = await compiled<typeof StoreModule>('store/collect-store.js');
  const queue = [...clusters];
  const worker = async (): Promise<void> => {
    for (let cluster = queue.shift(); cluster !== undefined; cluster = queue.shift()) {
      const store = await CollectStore.open(templateDir);
      const copied = cluster;
      try {
        await withClient(url, (client) =>
          pipeline(
            copyRowsSource(store, { constants: [copied, store.manifest.collectedAt, new Date().toISOString()] }),
            client.query(copyFrom(`COPY public.${table} (${STAGING_COLUMN_LIST}, cluster, collected_at, exported_at) FROM STDIN`)),
          ),
        );
      } finally {
        await store.close();
      }
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** The table of the keys that churnClusters() changes: 1 row in 100 of each synthetic cluster. */
const CHURN_KEYS = 'bench_scale_churn_keys';

/**
 * Picks the rows churnClusters() changes: of each of `clusters`, the rows whose uid ends in `00`
 * (syntheticRows numbers its objects in the uid: 1 in 100), into an UNLOGGED table of their keys,
 * which is neither the items table nor WAL.
 */
export async function pickChurnKeys(url: string, table: string, clusters: readonly string[]): Promise<number> {
  return withClient(url, async (client) => {
    await client.query(`DROP TABLE IF EXISTS ${CHURN_KEYS}`);
    const created = await client.query(
      `CREATE UNLOGGED TABLE ${CHURN_KEYS} AS SELECT cluster, namespace, name, uid FROM public.${table} WHERE cluster = ANY ($1) AND right(uid, 2) = '00'`,
      [clusters],
    );
    await client.query(`ANALYZE ${CHURN_KEYS}`);
    return created.rowCount ?? 0;
  });
}

/**
 * One hour's churn of the clusters whose keys pickChurnKeys() picked: their rows get a new label
 * `rev` and checksum, in one transaction (one per cluster cost a commit each, more than the
 * rows on this machine's disk). The rows are found through the primary key, one probe per row,
 * as kollect's upsert finds them: a hash join would read every cluster's rows instead.
 */
export async function churnClusters(url: string, table: string, revision: number): Promise<void> {
  await withClient(url, async (client) => {
    await client.query('BEGIN');
    await client.query('SET LOCAL enable_hashjoin = off');
    await client.query('SET LOCAL enable_mergejoin = off');
    await client.query(
      `UPDATE public.${table} t
          SET labels = t.labels || jsonb_build_object('rev', $1::text), checksum = md5(t.uid || $1::text), exported_at = now()
         FROM ${CHURN_KEYS} k
        WHERE t.cluster = k.cluster AND t.namespace = k.namespace AND t.name = k.name AND t.uid = k.uid`,
      [String(revision)],
    );
    await client.query('COMMIT');
  });
}

/** What one `kollect export` of the fleet benchmarks did: the sink's own time and counts, and the process's. */
export interface ExportFigure {
  /** The postgres sink's duration, connect to commit (its `durationMs` in `--output json`). */
  ms: number;
  counts: ChangeCounts;
  /** The process's peak RSS, in KiB. */
  maxRssKiB: number;
  /** The process's life, start-up included, in ms. */
  processMs: number;
}

interface ExportOutput {
  sinks: Array<{ ok: boolean; result?: { durationMs: number; totals: ChangeCounts }; error?: { message: string } }>;
}

/** `kollect export --from STORE --config CONFIG` (the built CLI, a process of its own) against the database at `url`. */
export async function exportWithKollect(store: string, config: string, url: string): Promise<ExportFigure> {
  const run = await measuredChild([KOLLECT, 'export', '--from', store, '--config', config, '--output', 'json'], { DATABASE_URL: url });
  const sink = (JSON.parse(run.stdout) as ExportOutput).sinks[0]!;
  if (!sink.ok || !sink.result) throw new Error(`export of ${store} failed: ${sink.error?.message ?? 'no result'}`);
  return { ms: sink.result.durationMs, counts: sink.result.totals, maxRssKiB: run.maxRssKiB, processMs: run.ms };
}
