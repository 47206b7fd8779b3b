import { walPosition, walSince, withClient } from '../../test/support/postgres.js';
import { churnClusters, exportWithKollect, pickChurnKeys } from './fleet-load.js';

/**
 * bench:scale's day: hourly rounds of the whole fleet against the plain items table, autovacuum
 * on with the server's settings. In each round every cluster changes 1% of its rows: the measured
 * clusters by `kollect export` (the built CLI, one process each, all at once, as overlapping
 * CronJobs), the synthetic clusters by an UPDATE of 1% of their rows on another connection at the
 * same time (scripts/support/fleet-load.ts). After each round: the table's footprint, its dead
 * tuples and free space, the WAL of the round, and how often autovacuum ran.
 */

export interface DayExporter {
  cluster: string;
  config: string;
  /** Two stores that differ in 1% of the rows; round r exports stores[r % 2]. */
  stores: readonly [string, string];
}

export interface RoundFigures {
  round: number;
  ms: number;
  /** The synthetic clusters' churn, all of it. */
  churnMs: number;
  /** The slowest exporter's own sink time. */
  exportMs: number;
  walBytes: number;
  liveTuples: number;
  deadTuples: number;
  tableBytes: number;
  indexBytes: number;
  /** pgstattuple_approx: dead tuples' and free space's share of the table, in percent. */
  deadPercent?: number;
  freePercent?: number;
  autovacuums: number;
  autoanalyzes: number;
  /** Updates of the round, and how many of them were HOT (no new index entry, the new version on the same page). */
  updates: number;
  hotUpdates: number;
  /** Highest peak RSS of the round's exporters, in KiB. */
  maxRssKiB: number;
}

interface Footprint {
  live: number;
  dead: number;
  table: number;
  index: number;
  autovacuums: number;
  autoanalyzes: number;
  updates: number;
  hot: number;
  dead_percent?: number;
  free_percent?: number;
}

/** The items table's size, tuples and autovacuum counts; its bloat from pgstattuple when the server has it (`bloat` true). */
async function footprint(url: string, table: string, bloat: boolean): Promise<Footprint> {
  return withClient(url, async (client) => {
    await client.query('SELECT pg_stat_force_next_flush()');
    await client.query('SELECT pg_stat_clear_snapshot()');
    const stats = await client.query<Record<keyof Footprint, string>>(
      `SELECT n_live_tup AS live, n_dead_tup AS dead, pg_table_size(relid) AS table, pg_indexes_size(relid) AS index,
              autovacuum_count AS autovacuums, autoanalyze_count AS autoanalyzes, n_tup_upd AS updates, n_tup_hot_upd AS hot
         FROM pg_stat_user_tables WHERE schemaname = 'public' AND relname = $1`,
      [table],
    );
    const approx = bloat
      ? (
          await client.query<{ dead_percent: number; free_percent: number }>(
            `SELECT dead_tuple_percent AS dead_percent, approx_free_percent AS free_percent FROM pgstattuple_approx($1::regclass)`,
            [`public.${table}`],
          )
        ).rows[0]
      : undefined;
    const row = stats.rows[0]!;
    return {
      live: Number(row.live),
      dead: Number(row.dead),
      table: Number(row.table),
      index: Number(row.index),
      autovacuums: Number(row.autovacuums),
      autoanalyzes: Number(row.autoanalyzes),
      updates: Number(row.updates),
      hot: Number(row.hot),
      ...approx,
    };
  });
}

/** Whether pgstattuple can be installed on the server (an embedded server has it; a managed one may not). */
async function installPgstattuple(url: string): Promise<string | undefined> {
  try {
    await withClient(url, (client) => client.query('CREATE EXTENSION IF NOT EXISTS pgstattuple'));
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

/** Runs the day: `rounds` rounds, each one after the other; returns each round's figures. */
export async function simulateDay(
  url: string,
  table: string,
  exporters: readonly DayExporter[],
  synthetic: readonly string[],
  rounds: number,
  progress: (line: string) => void,
): Promise<RoundFigures[]> {
  const noBloat = await installPgstattuple(url);
  if (noBloat) progress(`bloat: not measured, pgstattuple is not available (${noBloat})`);
  const picked = await pickChurnKeys(url, table, synthetic);
  progress(
    `day: ${exporters.length} clusters through kollect export at once, ${synthetic.length} synthetic clusters churned by UPDATE (${picked.toLocaleString('en-US')} rows a round)`,
  );
  const start = await footprint(url, table, false);
  const figures: RoundFigures[] = [];
  let before = start;
  for (let round = 1; round <= rounds; round++) {
    const lsn = await walPosition(url);
    const began = performance.now();
    const [runs, churnMs] = await Promise.all([
      Promise.all(exporters.map((e) => exportWithKollect(e.stores[round % 2]!, e.config, url))),
      (async () => {
        const t = performance.now();
        await churnClusters(url, table, round);
        return performance.now() - t;
      })(),
    ]);
    const ms = performance.now() - began;
    const walBytes = await walSince(url, lsn);
    const now = await footprint(url, table, noBloat === undefined);
    figures.push({
      round,
      ms,
      churnMs,
      exportMs: Math.max(...runs.map((r) => r.ms)),
      walBytes,
      liveTuples: now.live,
      deadTuples: now.dead,
      tableBytes: now.table,
      indexBytes: now.index,
      ...(now.dead_percent === undefined ? {} : { deadPercent: now.dead_percent, freePercent: now.free_percent }),
      autovacuums: now.autovacuums - start.autovacuums,
      autoanalyzes: now.autoanalyzes - start.autoanalyzes,
      updates: now.updates - before.updates,
      hotUpdates: now.hot - before.hot,
      maxRssKiB: Math.max(...runs.map((r) => r.maxRssKiB)),
    });
    before = now;
    const f = figures.at(-1)!;
    progress(
      `  round ${String(round).padStart(2)}: ${(ms / 1000).toFixed(1)} s, WAL ${(walBytes / 2 ** 20).toFixed(1)} MiB, ` +
        `table+index ${((f.tableBytes + f.indexBytes) / 2 ** 20).toFixed(1)} MiB, dead ${f.deadTuples.toLocaleString('en-US')}, HOT ${Math.round((100 * f.hotUpdates) / Math.max(1, f.updates))}%` +
        `${f.freePercent === undefined ? '' : ` (free ${f.freePercent.toFixed(1)}%)`}, autovacuum ${f.autovacuums} / autoanalyze ${f.autoanalyzes}`,
    );
  }
  return figures;
}
