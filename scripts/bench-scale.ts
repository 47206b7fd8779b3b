/**
 * `npm run bench:scale [-- --clusters 200 --rows 50000 --json FILE]`: the fleet that kollect's
 * operator documentation claims, 200 clusters of 50,000 rows in one table (10M rows), on one
 * machine (docs/load-test.md for the real run). PostgreSQL: DATABASE_URL (a superuser: auto_explain,
 * CHECKPOINT) when set, else an embedded server.
 *
 * `--history`: the table-size steps a third time, on the plain table with the sink's `history: true`
 * (the changes table holds the measured clusters' changes only: the synthetic ones have none).
 * `--day-table-settings name=value,...`: storage parameters for the day's items table (per-table
 * autovacuum, fillfactor), to compare them with the server's defaults.
 *
 * 1. Table sizes. At 0, 25%, 50% and 100% of clusters x rows, one more cluster is measured
 *    through kollect's own export path, the built CLI in a process of its own as a CronJob runs
 *    it (`kollect export --from STORE`): its first export, the same store again (unchanged), 1% of
 *    its rows changed, 1% deleted, a namespace added. The other clusters' rows are synthetic: a
 *    template store COPYed once per cluster (scripts/support/fleet-load.ts). Every step is timed by
 *    the sink's own duration, and every statement it ran is explained (auto_explain, read off the
 *    wire by scripts/support/notice-proxy.ts): a sequential scan of a relation holding other
 *    clusters' rows, or a nested loop over the staging table, is a MISS whatever the time. All of
 *    it twice: on the plain table (`kollect db init`) and on the table partitioned by cluster
 *    (`kollect db ddl --partition-by cluster`, a partition per cluster), each in a database of its
 *    own, autovacuum off on the items table (ANALYZE after each synthetic load), so that a time
 *    is the export's alone. Target: each step at full size <= 1.25x its time at an empty table.
 * 2. A day (scripts/support/scale-day.ts) on the plain table, autovacuum on: 24 hourly rounds,
 *    1% churn per cluster per round. Target: table + index after the day <= 1.3x after round 1.
 * 3. Database size per million rows; the exporter's peak RSS (flat across table sizes: <= 1.2x).
 */
import { rm } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Row } from '../src/rows/row.js';
import { explainEveryStatement } from '../test/support/plan-nodes.js';
import { runKollect } from '../test/support/cli.js';
import { checkpoint, startPostgres, withClient, writePostgresConfig, type PostgresServer } from '../test/support/postgres.js';
import { buildStore, syntheticRows, tempDir } from '../test/support/store-fixture.js';
import { BenchRecord, jsonResultPath } from './support/bench-result.js';
import { buildKollect } from './support/build-kollect.js';
import { copyClusters, namespacesFor, withAddedNamespace, type ExportFigure } from './support/fleet-load.js';
import { startNoticeProxy, type NoticeProxy } from './support/notice-proxy.js';
import { explainedExport, planFaults } from './support/plan-check.js';
import { addClusterPartitions, createPartitioned } from './support/partitioned-table.js';
import { simulateDay, type DayExporter, type RoundFigures } from './support/scale-day.js';
import { fullSizeEstimate, type Phases } from './support/scale-estimate.js';
import { Verdicts } from './support/verdicts.js';

const { values: flags } = parseArgs({
  options: {
    clusters: { type: 'string', default: '200' },
    rows: { type: 'string', default: '50000' },
    // Storage parameters for the day's table, as ALTER TABLE ... SET (...) takes them: autovacuum_vacuum_scale_factor=0.01,fillfactor=90.
    'day-table-settings': { type: 'string' },
    history: { type: 'boolean', default: false },
    // Read by jsonResultPath; declared so that parseArgs accepts it.
    json: { type: 'string' },
  },
});
const CLUSTERS = Number(flags.clusters);
const ROWS = Number(flags.rows);
if (!Number.isInteger(CLUSTERS) || CLUSTERS < 8) throw new Error(`--clusters must be an integer >= 8, got ${flags.clusters}`);
if (!Number.isInteger(ROWS) || ROWS < 1000) throw new Error(`--rows must be an integer >= 1000, got ${flags.rows}`);
const DAY_SETTINGS = flags['day-table-settings'];
if (DAY_SETTINGS !== undefined && !/^[a-z_]+=[0-9a-z.]+(,[a-z_]+=[0-9a-z.]+)*$/.test(DAY_SETTINGS))
  throw new Error(`--day-table-settings takes name=value,... as ALTER TABLE SET (...) does, got ${DAY_SETTINGS}`);
const FULL_SIZE = CLUSTERS === 200 && ROWS === 50_000;

const TABLE = 'kollect_items';
/** Shares of clusters x rows at which a cluster is measured; one measured cluster each. */
const SIZES = [0, 0.25, 0.5, 1] as const;
const STEPS = ['first export', 'unchanged', '1% changed', '1% deleted', 'namespace added'] as const;
type Step = (typeof STEPS)[number];
const DAY_ROUNDS = 24;
const TIME_TARGET = 1.25;
const DAY_TARGET = 1.3;
const RSS_TARGET = 1.2;
/** The items table plain, partitioned by cluster, and (with --history) plain with the sink's `history: true`. */
type Layout = 'plain' | 'partitioned' | 'history';
const LAYOUTS: readonly Layout[] = flags.history ? ['plain', 'partitioned', 'history'] : ['plain', 'partitioned'];

const measuredCluster = (size: number): string => `measured-${Math.round(size * 100)}`;
const syntheticCluster = (n: number): string => `synthetic-${String(n).padStart(3, '0')}`;
/** Clusters in the table before the measured cluster of `size` first exports: with it, size x clusters. */
const othersBefore = (size: number): number => (size === 0 ? 0 : Math.round(size * CLUSTERS) - 1);

interface StepFigure extends ExportFigure {
  /** Rows of other clusters in the table. */
  others: number;
  /** What is wrong with the plans of the step's statements; empty when nothing. */
  brokenPlans: string[];
}

/** A step's stores and the configs of its cluster. */
interface MeasuredCluster {
  cluster: string;
  /** Without history (the plain and the partitioned table), and with it. */
  config: string;
  historyConfig: string;
  stores: Record<Step, string>;
  /** The store the day exports in odd and even rounds. */
  day: readonly [string, string];
  /** Rows the cluster holds once its steps are done. */
  finalRows: number;
}

async function buildMeasured(work: string, size: number): Promise<MeasuredCluster> {
  const cluster = measuredCluster(size);
  const shape = { cluster, count: ROWS, namespaces: namespacesFor(ROWS) };
  const churned = { ...shape, changedFraction: 0.01, revision: 2 };
  const deleted = { ...churned, removedFraction: 0.01 };
  const addedRows = Math.round(ROWS / namespacesFor(ROWS));
  const dir = join(work, cluster);
  /** Writes a store of `rows` and closes it: its folder and how many rows it holds. */
  const build = async (name: string, rows: Iterable<Row>): Promise<{ dir: string; rows: number }> => {
    const store = await buildStore(join(dir, name), cluster, rows);
    await store.close();
    return { dir: store.dir, rows: store.manifest.totals.rows };
  };
  const base = (await build('base', syntheticRows(shape))).dir;
  const last = await build('namespace-added', withAddedNamespace(deleted, addedRows));
  return {
    cluster,
    config: await writePostgresConfig(work, cluster, { table: TABLE, onLocked: 'wait' }),
    historyConfig: await writePostgresConfig(work, cluster, { table: TABLE, onLocked: 'wait', history: true }),
    stores: {
      'first export': base,
      unchanged: base,
      '1% changed': (await build('changed', syntheticRows(churned))).dir,
      '1% deleted': (await build('deleted', syntheticRows(deleted))).dir,
      'namespace added': last.dir,
    },
    day: [
      (await build('day-even', withAddedNamespace({ ...deleted, revision: 4 }, addedRows))).dir,
      (await build('day-odd', withAddedNamespace({ ...deleted, revision: 3 }, addedRows))).dir,
    ],
    finalRows: last.rows,
  };
}

/** One step: `kollect export` through the notice proxy, with what is wrong with the plans of its statements. */
async function exportStep(proxy: NoticeProxy, m: MeasuredCluster, step: Step, layout: Layout, others: number): Promise<StepFigure> {
  const { run, plans } = await explainedExport(proxy, m.stores[step], layout === 'history' ? m.historyConfig : m.config);
  const scene = { table: TABLE, partitioned: layout === 'partitioned', cluster: m.cluster, otherRows: others };
  return { ...run, others, brokenPlans: plans.flatMap((plan) => planFaults(plan, scene)) };
}

/** Turns autovacuum off (or back on) for the items table and each of its partitions. */
async function setAutovacuum(url: string, on: boolean): Promise<void> {
  await withClient(url, async (client) => {
    const tables = await client.query<{ name: string }>(`SELECT oid::regclass::text AS name FROM pg_class WHERE relname LIKE $1 AND relkind = 'r'`, [
      `${TABLE}%`,
    ]);
    for (const { name } of tables.rows) await client.query(`ALTER TABLE ${name} ${on ? 'RESET (autovacuum_enabled)' : 'SET (autovacuum_enabled = false)'}`);
  });
}

/** Creates the layout's tables in a new database, with autovacuum off on the items table. */
async function createTables(url: string, layout: Layout, measured: readonly MeasuredCluster[]): Promise<void> {
  const env = { DATABASE_URL: url };
  const config = layout === 'history' ? measured[0]!.historyConfig : measured[0]!.config;
  if (layout === 'partitioned') {
    await createPartitioned(url, config, env);
    await addClusterPartitions(url, TABLE, [...measured.map((m) => m.cluster), ...Array.from({ length: CLUSTERS }, (_, i) => syntheticCluster(i + 1))]);
  }
  const init = await runKollect(['db', 'init', '-c', config], { env });
  if (init.code !== 0) throw new Error(`kollect db init failed: ${init.stderr}`);
  await setAutovacuum(url, false);
}

const MiB = 2 ** 20;
const log = (line: string): void => void process.stdout.write(`${line}\n`);
const pct = (size: number): string => `${Math.round(size * 100)}%`;

/** A new database with the layout's tables, auto_explain on, and the notice proxy in front of it. */
async function layoutDatabase(server: PostgresServer, layout: Layout, measured: readonly MeasuredCluster[]): Promise<{ url: string; proxy: NoticeProxy }> {
  const url = await server.createDatabase();
  await createTables(url, layout, measured);
  await explainEveryStatement(url);
  return { url, proxy: await startNoticeProxy(url) };
}

/** The five steps of `m`, each after a CHECKPOINT, with `others` rows of other clusters in the table; each printed and recorded. */
async function measureSteps(
  db: { url: string; proxy: NoticeProxy },
  layout: Layout,
  m: MeasuredCluster,
  label: string,
  others: number,
  record: BenchRecord,
): Promise<Map<Step, StepFigure>> {
  const figures = new Map<Step, StepFigure>();
  for (const step of STEPS) {
    await checkpoint(db.url);
    const f = await exportStep(db.proxy, m, step, layout, others);
    figures.set(step, f);
    const c = f.counts;
    log(
      `${layout.padEnd(11)} ${label.padEnd(12)} ${(others / 1e6).toFixed(2).padStart(6)}M other rows  ${step.padEnd(16)} ` +
        `${(f.ms / 1000).toFixed(2).padStart(6)} s  ${c.added}/${c.changed}/${c.unchanged}/${c.removed}  RSS ${(f.maxRssKiB / 1024).toFixed(0)} MiB` +
        `${f.brokenPlans.length > 0 ? `  PLAN: ${f.brokenPlans.join('; ')}` : ''}`,
    );
    record.add(`${layout}@${label} ${step}`, {
      ms: f.ms,
      processMs: f.processMs,
      otherRows: others,
      added: c.added,
      changed: c.changed,
      unchanged: c.unchanged,
      removed: c.removed,
      maxRssKiB: f.maxRssKiB,
      brokenPlans: f.brokenPlans.length,
    });
  }
  return figures;
}

async function main(): Promise<void> {
  const json = await jsonResultPath();
  const began = performance.now();
  const phases: Phases = { stores: 0, load: 0, steps: 0, stepsSink: 0, day: 0 };
  const timed = async <T>(phase: keyof Phases, work: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await work();
    } finally {
      phases[phase] += performance.now() - t;
    }
  };
  buildKollect();
  const server = await startPostgres();
  const work = await tempDir('kollect-bench-scale-');
  const record = new BenchRecord('bench:scale', {
    clusters: CLUSTERS,
    rowsPerCluster: ROWS,
    sizes: SIZES.join(','),
    dayRounds: DAY_ROUNDS,
    dayTableSettings: DAY_SETTINGS ?? 'server defaults',
  });
  const verdicts = new Verdicts();
  const syntheticCount = CLUSTERS - SIZES.length;
  try {
    const loadAtStart = loadavg()[0]!;
    log(
      `fleet: ${CLUSTERS} clusters x ${ROWS.toLocaleString('en-US')} rows (${namespacesFor(ROWS)} namespaces each); ` +
        `PostgreSQL: ${server.embedded ? 'embedded' : 'DATABASE_URL'}; machine: ${cpus().length} cores, load ${loadAtStart.toFixed(1)}`,
    );
    log(
      `through kollect (the built CLI, a process each): ${SIZES.map(measuredCluster).join(', ')}; ` +
        `synthetic (a template store COPYed as each cluster's rows): ${syntheticCluster(1)} ... ${syntheticCluster(syntheticCount)}`,
    );
    const measured = await timed('stores', async () => {
      const built: MeasuredCluster[] = [];
      for (const size of SIZES) built.push(await buildMeasured(work, size));
      const template = await buildStore(
        join(work, 'template'),
        'template',
        syntheticRows({ cluster: 'template', count: ROWS, namespaces: namespacesFor(ROWS) }),
      );
      await template.close();
      return built;
    });
    const stepsOf = async (db: { url: string; proxy: NoticeProxy }, layout: Layout, m: MeasuredCluster, label: string, others: number) => {
      const t = performance.now();
      const figures = await measureSteps(db, layout, m, label, others, record);
      phases.steps += performance.now() - t;
      phases.stepsSink += [...figures.values()].reduce((n, f) => n + f.ms, 0);
      return figures;
    };

    let plainUrl = '';
    for (const layout of LAYOUTS) {
      const db = await layoutDatabase(server, layout, measured);
      if (layout === 'plain') plainUrl = db.url;
      const bySize: Array<Map<Step, StepFigure>> = [];
      let emptyAgain = new Map<Step, StepFigure>();
      let loaded = 0;
      let others = 0;
      for (const [i, size] of SIZES.entries()) {
        if (size === 1) {
          // The empty table once more, right before the full one, in a database of its own:
          // the verdict takes the faster of the two empty-table times, so that a slow minute
          // of a shared machine can make a MISS, never hide one.
          const empty = await layoutDatabase(server, layout, measured);
          emptyAgain = await stepsOf(empty, layout, measured[0]!, 'empty again', 0);
          await empty.proxy.close();
        }
        const wanted = Math.max(0, othersBefore(size) - i);
        if (wanted > loaded) {
          const clusters = Array.from({ length: wanted - loaded }, (_, k) => syntheticCluster(loaded + k + 1));
          await timed('load', async () => {
            await copyClusters(db.url, TABLE, join(work, 'template'), clusters);
            // What autovacuum would do after a load; the measured cluster stays unknown to the statistics, as a new one is.
            await withClient(db.url, (c) => c.query(`ANALYZE ${TABLE}`));
          });
          others += clusters.length * ROWS;
          loaded = wanted;
        }
        bySize.push(await stepsOf(db, layout, measured[i]!, pct(size), others));
        others += measured[i]!.finalRows;
      }
      await db.proxy.close();
      await explainEveryStatement(db.url, false);
      for (const step of STEPS) {
        const empty = Math.min(bySize[0]!.get(step)!.ms, emptyAgain.get(step)!.ms);
        const full = bySize.at(-1)!.get(step)!;
        verdicts.check(
          { name: `${layout}-${step.replace(/[^a-z0-9]+/g, '-')}`, value: full.ms / empty, operator: '<=', target: TIME_TARGET, unit: 'x' },
          `${layout}, ${step}: ${(full.ms / 1000).toFixed(2)} s at ${(full.others / 1e6).toFixed(2)}M other rows, ${(full.ms / empty).toFixed(2)}x its time at an empty table`,
        );
      }
      const broken = [...bySize, emptyAgain].flatMap((figures) => [...figures.values()].flatMap((f) => f.brokenPlans));
      verdicts.check({ name: `${layout}-plans`, value: broken.length, operator: '==', target: 0, unit: 'plans' }, `${layout}: broken plans: ${broken.length}`);
      const rss = bySize.map((figures) => Math.max(...[...figures.values()].map((f) => f.maxRssKiB)));
      verdicts.check(
        { name: `${layout}-peak-rss`, value: rss.at(-1)! / rss[0]!, operator: '<=', target: RSS_TARGET, unit: 'x' },
        `${layout}: exporter's peak RSS ${rss.map((k) => `${(k / 1024).toFixed(0)}`).join(' / ')} MiB at the four sizes`,
      );
    }

    // Size per million rows, of the plain table as the table-size steps left it.
    const size = await withClient(plainUrl, async (c) => {
      const r = await c.query<{ rows: string; total: string; database: string }>(
        `SELECT (SELECT count(*) FROM public.${TABLE}) AS rows, pg_table_size('public.${TABLE}') + pg_indexes_size('public.${TABLE}') AS total, pg_database_size(current_database()) AS database`,
      );
      return { rows: Number(r.rows[0]!.rows), total: Number(r.rows[0]!.total), database: Number(r.rows[0]!.database) };
    });
    const perMillion = (bytes: number): number => (bytes / size.rows) * 1e6;
    log(
      `\nplain table: ${size.rows.toLocaleString('en-US')} rows, table + indexes ${(size.total / MiB).toFixed(0)} MiB ` +
        `(${(perMillion(size.total) / MiB).toFixed(0)} MiB per million rows), database ${(size.database / MiB).toFixed(0)} MiB (${(perMillion(size.database) / MiB).toFixed(0)} MiB per million rows)`,
    );
    record.add('size', { rows: size.rows, tableAndIndexBytes: size.total, databaseBytes: size.database, bytesPerMillionRows: perMillion(size.total) });

    // The day, on the plain table, with autovacuum back on.
    await setAutovacuum(plainUrl, true);
    if (server.embedded) {
      // An hour is a few seconds here: autovacuum waking once a minute (its default) would miss
      // rounds it gets to see in real hours. Once a second is about once a round.
      await withClient(plainUrl, async (c) => {
        await c.query(`ALTER SYSTEM SET autovacuum_naptime = '1s'`);
        await c.query('SELECT pg_reload_conf()');
      });
      log("day's server setting: autovacuum_naptime = 1s (rounds last seconds, not hours)");
    } else {
      log("day's server setting: the server's own autovacuum_naptime (rounds last seconds, not hours: autovacuum may miss some)");
    }
    if (DAY_SETTINGS) {
      await withClient(plainUrl, (c) => c.query(`ALTER TABLE public.${TABLE} SET (${DAY_SETTINGS})`));
      log(`day's table settings: ${DAY_SETTINGS}`);
    }
    const exporters: DayExporter[] = measured.map((m) => ({ cluster: m.cluster, config: m.config, stores: m.day }));
    const synthetic = Array.from({ length: syntheticCount }, (_, i) => syntheticCluster(i + 1));
    const rounds = await timed('day', () => simulateDay(plainUrl, TABLE, exporters, synthetic, DAY_ROUNDS, log));
    for (const { round, ...figuresOfRound } of rounds) {
      record.add(`day round ${round}`, Object.fromEntries(Object.entries(figuresOfRound).filter((e): e is [string, number] => e[1] !== undefined)));
    }
    const footprint = (r: RoundFigures): number => r.tableBytes + r.indexBytes;
    const [first, last] = [rounds[0]!, rounds.at(-1)!];
    verdicts.check(
      { name: 'day-growth', value: footprint(last) / footprint(first), operator: '<=', target: DAY_TARGET, unit: 'x' },
      `day: table + indexes ${(footprint(last) / MiB).toFixed(0)} MiB after ${DAY_ROUNDS} rounds, ${(footprint(first) / MiB).toFixed(0)} MiB after round 1 ` +
        `(${last.autovacuums} autovacuums, WAL ${(rounds.reduce((n, r) => n + r.walBytes, 0) / MiB).toFixed(0)} MiB in all)`,
    );

    const total = performance.now() - began;
    const estimate = fullSizeEstimate(total, phases, rounds, { clusters: CLUSTERS, rows: ROWS, measured: SIZES.length });
    log(
      `\ntime: ${(total / 1000).toFixed(0)} s (stores ${(phases.stores / 1000).toFixed(0)} s, synthetic loads ${(phases.load / 1000).toFixed(0)} s, ` +
        `measured steps ${(phases.steps / 1000).toFixed(0)} s, day ${(phases.day / 1000).toFixed(0)} s), machine load ${loadAtStart.toFixed(1)} then ${loadavg()[0]!.toFixed(1)}` +
        `${FULL_SIZE ? '' : `; at 200 x 50,000 rows, at most about ${(estimate / 60_000).toFixed(0)} min at this pace (scaled part by part)`}`,
    );
    record.add('time', {
      ms: total,
      load1AtStart: loadAtStart,
      load1AtEnd: loadavg()[0]!,
      ...Object.fromEntries(Object.entries(phases).map(([k, v]) => [`${k}Ms`, v])),
      fullSizeEstimateMs: estimate,
    });
    if (!FULL_SIZE)
      log('(below the default size the time ratios weigh process start-up and the machine more than the table: indicative only, docs/benchmarks.md)');
    log(`\n${verdicts.report()}`);
    if (json) await record.write(json, verdicts);
  } finally {
    await rm(work, { recursive: true, force: true });
    await server.dropCreatedDatabases();
  }
}

await main();
// The embedded server's reaper stops it once this process is gone; the exit code is the verdicts' (1 on a MISS).
process.exit();
