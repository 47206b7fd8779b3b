/**
 * `npm run bench:pg`: the PostgreSQL sink at 100,000 rows (~1 KB each, 60 namespaces) against
 * its floor and against the naive ways of writing the same rows, all in one run on one server
 * (DATABASE_URL, else an embedded one). Every figure is printed with its ratio to (a):
 *
 *   (a) raw COPY of the same COPY text into an UNLOGGED table without index: the floor
 *       (scripts/support/raw-copy.ts, the same as `npm run bench`'s);
 *   (b) kollect's first export into an empty table;
 *   (c) the same store again (nothing changed), with the WAL it wrote and the dead tuples left;
 *   (d) 5% of the objects changed;
 *   (e) one INSERT ... ON CONFLICT statement per row (10,000 rows, time scaled x10);
 *   (f) multi-row INSERT ... ON CONFLICT, 1,000 rows per statement;
 *   (g) 5% of the objects changed and 2% deleted, right after the first export into a new table,
 *       before anything analysed it (autovacuum off): the plans may use no statistics;
 *   (h) the same export after an ANALYZE of the first export's rows: (g) is compared with it;
 *   (i) (c) with `history` on (its own tables, after a baseline): no changes row, compared with (c);
 *   (j) (d) with `history` on: compared with (d); then, once, the churned store (2% deleted) with
 *       history, and the changes rows of (j) and it counted against their inserts, updates and deletes;
 *
 * and the peak RSS of the exporter, with PASS or MISS against each target (exit 1 on a MISS). (b)-(d) run the built CLI (`bin/kollect export --from`) in a
 * child process; its time is the sink's own `durationMs` (connect to commit, as reported in
 * `--output json`), its peak RSS is read from the child's getrusage on exit. (a) runs in a fresh
 * child process too, so that floor and exporter start equally cold (a CronJob is a new process
 * every time). (a), (e) and (f) include reading the store, as kollect's time does, with the
 * built kollect's reader (and (a) with its COPY encoder), from dist/ as (b)-(d) run it. (a)-(d)
 * are measured in RUNS paired rounds and the median of each is printed, with the range.
 * Usage: npm run bench:pg [-- --json FILE] [--rows N] [--runs N] (--json: also write the result as
 * JSON, scripts/support/bench-result.ts; --rows, --runs: a smaller run, 100,000 and 5 by default).
 */
import { rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CLUSTER_SHARD, type Row } from '../src/rows/row.js';
import type { ChangeCounts } from '../src/sinks/sink.js';
import { ITEM_COLUMNS, KEY_COLUMNS } from '../src/sinks/postgres/schema.js';
import type * as StoreModule from '../src/store/collect-store.js';
import {
  checkpoint,
  initTables,
  ITEMS_TABLE,
  startPostgres,
  tableStats,
  testSinkConfig,
  waitForStats,
  walPosition,
  walSince,
  withClient,
} from '../test/support/postgres.js';
import { buildStore, syntheticRows, tempDir } from '../test/support/store-fixture.js';
import { BenchRecord, jsonResultPath } from './support/bench-result.js';
import { buildKollect, compiled, KOLLECT } from './support/build-kollect.js';
import { measuredChild, scriptChild, writeResult } from './support/measured-child.js';
import { medianBy } from './support/median.js';
import { rawCopy } from './support/raw-copy.js';
import { Verdicts } from './support/verdicts.js';

/** `--NAME N` on the command line, else `fallback`. */
function numberFlag(name: string, fallback: number): number {
  const at = process.argv.indexOf(`--${name}`);
  const value = at < 0 ? fallback : Number(process.argv[at + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`--${name} takes a whole number above 0`);
  return value;
}

const ROWS = numberFlag('rows', 100_000);
/**
 * syntheticRows spreads namespaced rows over `namespaces` by i % namespaces, but only where
 * i % 4 is not 3 (those are cluster-scoped nodes): 80 gives 60 namespaces with rows.
 */
const FIXTURE_NAMESPACES = 80;
/** Attribute filler that makes a stored row about 1,050 bytes of JSON (880 bytes of COPY text). */
const ATTRIBUTE_BYTES = 700;
const NAIVE_ROWS = 10_000;
const BATCH_ROWS = 1_000;
const RUNS = numberFlag('runs', 5);
const CLUSTER = 'bench';
/** The empty items table that (g) and (h) each start from, as a new table (no statistics at all). */
const TEMPLATE_TABLE = 'bench_items_template';
const SCHEMA = 'public';
const TABLE = 'kollect_items';
/** (i) and (j): a sink with history, on tables of its own, so that (c) and (d) stay as they were. */
const HISTORY_SINK = { table: 'history_items', runsTable: 'history_runs', history: { table: 'history_changes' } };
/** Argument that makes this script measure (a) in a child process and print its time. */
const FLOOR_FLAG = '--floor';

interface Figure {
  ms: number;
  /** Fastest and slowest of the runs the median was taken from. */
  range?: [number, number];
  walBytes?: number;
  deadTuples?: number;
  updatedTuples?: number;
  counts?: ChangeCounts;
  maxRssKiB?: number;
  /** Rows in the changes table after the step. */
  changesRows?: number;
}

/** The run whose time is the median, with the range of the times and the peak RSS of all runs. */
function medianFigure(figures: Figure[]): Figure {
  const times = figures.map((f) => f.ms);
  const peaks = figures.flatMap((f) => f.maxRssKiB ?? []);
  return {
    ...medianBy(figures, (f) => f.ms)!,
    range: [Math.min(...times), Math.max(...times)],
    ...(peaks.length > 0 ? { maxRssKiB: Math.max(...peaks) } : {}),
  };
}

/** (a) in a fresh process, as cold as the exporter it is compared with. */
async function floor(url: string, storeDir: string): Promise<Figure> {
  return { ms: await scriptChild<number>(import.meta.url, [FLOOR_FLAG, storeDir], { DATABASE_URL: url }) };
}

interface ExportOutput {
  sinks: Array<{ ok: boolean; result?: { durationMs: number; totals: ChangeCounts }; error?: { message: string } }>;
}

/** The tables an export of the benchmark writes: (b)-(h)'s, or (i) and (j)'s with history. */
interface Tables {
  items: string;
  runs: string;
}

/** (b)-(d), (i), (j): `kollect export --from STORE` in a child process: the sink's time, its counts, WAL, tuples, peak RSS. */
async function kollectExport(url: string, config: string, storeDir: string, runsBefore: number, tables: Tables): Promise<Figure> {
  const before = await tableStats(url, SCHEMA, tables.items);
  const lsn = await walPosition(url);
  const { stdout, maxRssKiB } = await measuredChild([KOLLECT, 'export', '--from', storeDir, '--config', config, '--output', 'json'], { DATABASE_URL: url });
  const sink = (JSON.parse(stdout) as ExportOutput).sinks[0]!;
  if (!sink.ok || !sink.result) throw new Error(`export failed: ${sink.error?.message ?? 'no result'}`);
  const walBytes = await walSince(url, lsn);
  // The exporter's backend has exited, so its statistics are flushed with its runs row.
  await waitForStats(url, SCHEMA, tables.runs, (s) => s.ins === runsBefore + 1);
  const stats = await waitForStats(url, SCHEMA, tables.items, () => true);
  return {
    ms: sink.result.durationMs,
    walBytes,
    deadTuples: stats.dead - before.dead,
    updatedTuples: stats.upd - before.upd,
    counts: sink.result.totals,
    maxRssKiB,
  };
}

/** (e) and (f) write every column of the items table; exported_at is now(). */
const UPSERT_COLUMNS = ITEM_COLUMNS.filter((c) => c !== 'exported_at');
const UPSERT_SET = ITEM_COLUMNS.filter((c) => !(KEY_COLUMNS as readonly string[]).includes(c))
  .map((c) => `${c} = EXCLUDED.${c}`)
  .join(', ');

function upsertSql(rows: number): string {
  const tuples = Array.from({ length: rows }, (_, r) => `(${UPSERT_COLUMNS.map((_, c) => `$${r * UPSERT_COLUMNS.length + c + 1}`).join(', ')}, now())`);
  return `INSERT INTO bench_naive (${ITEM_COLUMNS.join(', ')}) VALUES ${tuples.join(', ')}
          ON CONFLICT (${KEY_COLUMNS.join(', ')}) DO UPDATE SET ${UPSERT_SET} WHERE bench_naive.checksum IS DISTINCT FROM EXCLUDED.checksum`;
}

function upsertValues(row: Row, collectedAt: string): unknown[] {
  return [
    row.cluster,
    row.namespace,
    row.name,
    row.uid,
    row.apiGroup,
    row.apiVersion,
    row.kind,
    row.resource,
    JSON.stringify(row.labels),
    JSON.stringify(row.attributes),
    row.checksum,
    row.resourceVersion,
    row.createdAt,
    collectedAt,
  ];
}

/**
 * (e) and (f): the store's first `limit` rows upserted `perStatement` rows at a time into an
 * empty copy of the items table, in one transaction (the kindest setting for the naive way).
 */
async function naiveUpsert(url: string, store: StoreModule.CollectStore, perStatement: number, limit: number): Promise<Figure> {
  return withClient(url, async (client) => {
    await client.query('DROP TABLE IF EXISTS bench_naive');
    await client.query(`CREATE TABLE bench_naive (LIKE ${ITEMS_TABLE} INCLUDING ALL)`);
    const started = performance.now();
    await client.query('BEGIN');
    let batch: unknown[] = [];
    let written = 0;
    const flush = async (): Promise<void> => {
      const rows = batch.length / UPSERT_COLUMNS.length;
      if (rows > 0) await client.query(upsertSql(rows), batch);
      batch = [];
    };
    for await (const row of store.rows()) {
      if (written === limit) break;
      batch.push(...upsertValues(row, store.manifest.collectedAt));
      written++;
      if (written % perStatement === 0) await flush();
    }
    await flush();
    await client.query('COMMIT');
    const ms = ((performance.now() - started) * ROWS) / written;
    await client.query('DROP TABLE bench_naive');
    return { ms };
  });
}

/** A step's figures for the JSON result: those it has, each with its unit. */
function figures(x: Figure, floor: Figure): Record<string, number> {
  const optional = {
    rangeMinMs: x.range?.[0],
    rangeMaxMs: x.range?.[1],
    walBytes: x.walBytes,
    updatedTuples: x.updatedTuples,
    deadTuples: x.deadTuples,
    added: x.counts?.added,
    changed: x.counts?.changed,
    unchanged: x.counts?.unchanged,
    removed: x.counts?.removed,
    maxRssKiB: x.maxRssKiB,
  };
  const measured = Object.entries(optional).filter((entry): entry is [string, number] => entry[1] !== undefined);
  return { ms: x.ms, ratio: x.ms / floor.ms, ...Object.fromEntries(measured) };
}

async function main(): Promise<void> {
  const json = await jsonResultPath();
  const record = new BenchRecord('bench:pg', {
    rows: ROWS,
    fixtureNamespaces: FIXTURE_NAMESPACES,
    attributeBytes: ATTRIBUTE_BYTES,
    runs: RUNS,
    naiveRows: NAIVE_ROWS,
    batchRows: BATCH_ROWS,
  });
  buildKollect();
  const server = await startPostgres();
  const url = await server.createDatabase();
  const dir = await tempDir('kollect-bench-pg-');
  const shape = { cluster: CLUSTER, count: ROWS, namespaces: FIXTURE_NAMESPACES, attributeBytes: ATTRIBUTE_BYTES };
  const baseDir = join(dir, 'base');
  const changedDir = join(dir, 'changed');
  const base = await buildStore(baseDir, CLUSTER, syntheticRows(shape));
  await buildStore(changedDir, CLUSTER, syntheticRows({ ...shape, changedFraction: 0.05, revision: 2 }));
  const churnedDir = join(dir, 'churned');
  await buildStore(churnedDir, CLUSTER, syntheticRows({ ...shape, changedFraction: 0.05, removedFraction: 0.02, revision: 2 }));
  const config = join(dir, 'kollect.yaml');
  await writeFile(config, `cluster: ${CLUSTER}\nsinks:\n  - { name: fleet-db, type: postgres, ssl: { mode: disable } }\n`);
  const historyConfig = join(dir, 'kollect-history.yaml');
  await writeFile(
    historyConfig,
    JSON.stringify({ cluster: CLUSTER, sinks: [{ name: 'fleet-db', type: 'postgres', ssl: { mode: 'disable' }, ...HISTORY_SINK }] }),
  );
  await initTables(url, testSinkConfig());
  await initTables(url, testSinkConfig(HISTORY_SINK));
  // Autovacuum off on the items table, so that the dead tuples an export leaves are counted, not hidden.
  await withClient(url, (c) => c.query(`ALTER TABLE ${ITEMS_TABLE} SET (autovacuum_enabled = false)`));
  await withClient(url, (c) => c.query(`CREATE TABLE ${TEMPLATE_TABLE} (LIKE ${ITEMS_TABLE} INCLUDING ALL)`));
  await withClient(url, (c) => c.query(`ALTER TABLE ${HISTORY_SINK.table} SET (autovacuum_enabled = false)`));
  let runs = 0;
  const exportOnce = async (storeDir: string): Promise<Figure> => kollectExport(url, config, storeDir, runs++, { items: TABLE, runs: 'kollect_runs' });
  let historyRuns = 0;
  const historyTables = { items: HISTORY_SINK.table, runs: HISTORY_SINK.runsTable };
  const exportWithHistory = async (storeDir: string): Promise<Figure> => kollectExport(url, historyConfig, storeDir, historyRuns++, historyTables);
  const changesRows = async (): Promise<number> =>
    withClient(url, async (c) => Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${HISTORY_SINK.history.table}`)).rows[0]!.n));
  const mb = (base.manifest.totals.bytes / 1024 / 1024).toFixed(0);
  const namespaces = base.shards.filter((s) => s.key !== CLUSTER_SHARD).length;
  process.stderr.write(
    `store: ${ROWS.toLocaleString('en-US')} rows, ${namespaces} namespaces and the cluster-scoped shard, ${mb} MiB; ${RUNS} runs per figure, median\n`,
  );

  // Paired rounds, (a) to (d) once each per round, so that a slow stretch of a shared machine
  // weighs on all four alike; a CHECKPOINT before each step, so that none pays for writing out
  // the pages of the one before.
  const runsOf: Record<'a' | 'b' | 'c' | 'd' | 'i' | 'j', Figure[]> = { a: [], b: [], c: [], d: [], i: [], j: [] };
  const step = async (name: keyof typeof runsOf, measure: () => Promise<Figure>): Promise<void> => {
    await checkpoint(url);
    runsOf[name].push(await measure());
  };
  for (let round = 0; round < RUNS; round++) {
    await step('a', () => floor(url, baseDir));
    await withClient(url, (client) => client.query(`TRUNCATE ${ITEMS_TABLE}`));
    await step('b', () => exportOnce(baseDir));
    await step('c', () => exportOnce(baseDir));
    await step('d', () => exportOnce(changedDir));
    // A new history each round: its first export is the cluster's baseline (one run, no rows).
    await withClient(url, (client) => client.query(`TRUNCATE ${HISTORY_SINK.table}, ${HISTORY_SINK.runsTable}, ${HISTORY_SINK.history.table}`));
    await exportWithHistory(baseDir);
    await step('i', async () => ({ ...(await exportWithHistory(baseDir)), changesRows: await changesRows() }));
    await step('j', () => exportWithHistory(changedDir));
  }
  // History rows against what the exports did: (j) of the last round, then deletes on top of it.
  const churnedWithHistory = await exportWithHistory(churnedDir);
  // (g) and (h), paired the same way: each on a new table that the first export has just loaded.
  const churnRuns: Record<'g' | 'h', Figure[]> = { g: [], h: [] };
  for (let round = 0; round < RUNS; round++) {
    for (const name of ['g', 'h'] as const) {
      await withClient(url, async (client) => {
        await client.query(`DROP TABLE ${ITEMS_TABLE}`);
        await client.query(`CREATE TABLE ${ITEMS_TABLE} (LIKE ${TEMPLATE_TABLE} INCLUDING ALL) WITH (autovacuum_enabled = false)`);
      });
      await exportOnce(baseDir);
      if (name === 'h') await withClient(url, (client) => client.query(`ANALYZE ${ITEMS_TABLE}`));
      await checkpoint(url);
      churnRuns[name].push(await exportOnce(churnedDir));
    }
  }
  const [a, b, c, d, i, j] = (['a', 'b', 'c', 'd', 'i', 'j'] as const).map((name) => medianFigure(runsOf[name])) as [
    Figure,
    Figure,
    Figure,
    Figure,
    Figure,
    Figure,
  ];
  const recorded = await changesRows();
  const lastChanged = runsOf.j.at(-1)!.counts!;
  const written = [lastChanged, churnedWithHistory.counts!].reduce((n, t) => n + t.added + t.changed + t.removed, 0);
  const unchangedRecorded = Math.max(...runsOf.i.map((x) => x.changesRows ?? 0));
  const [g, h] = (['g', 'h'] as const).map((name) => medianFigure(churnRuns[name])) as [Figure, Figure];
  // (e) and (f) read the store with the built kollect's reader, as (a)-(d) do.
  const builtBase = await (await compiled<typeof StoreModule>('store/collect-store.js')).CollectStore.open(baseDir);
  const e = await naiveUpsert(url, builtBase, 1, NAIVE_ROWS);
  const f = await naiveUpsert(url, builtBase, BATCH_ROWS, ROWS);
  await builtBase.close();
  const peakKiB = Math.max(b.maxRssKiB!, c.maxRssKiB!, d.maxRssKiB!, g.maxRssKiB!, h.maxRssKiB!, i.maxRssKiB!, j.maxRssKiB!);

  const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;
  const ratio = (x: Figure): string => `${(x.ms / a.ms).toFixed(2)}x`;
  const counts = (x: Figure): string => (x.counts ? `${x.counts.added}/${x.counts.changed}/${x.counts.unchanged}/${x.counts.removed}` : '');
  const wal = (x: Figure): string => (x.walBytes === undefined ? '' : `${(x.walBytes / 1024 / 1024).toFixed(2)} MiB`);
  const table: Array<[string, Figure]> = [
    ['(a) raw COPY, UNLOGGED, no index (floor)', a],
    ['(b) kollect first export', b],
    ['(c) kollect re-export, unchanged', c],
    ['(d) kollect export, 5% changed', d],
    [`(e) INSERT ON CONFLICT per row (${NAIVE_ROWS.toLocaleString('en-US')} x10)`, e],
    [`(f) INSERT ON CONFLICT, ${BATCH_ROWS.toLocaleString('en-US')} rows/statement`, f],
    ['(g) 5% changed, 2% deleted, never analysed', g],
    ['(h) the same, after ANALYZE', h],
    ['(i) (c) with history', i],
    ['(j) (d) with history', j],
  ];
  console.log(`\nPostgreSQL sink, ${ROWS.toLocaleString('en-US')} rows of ~1 KB in ${namespaces} namespaces (median of ${RUNS} runs for a-d, g, h)\n`);
  const range = (x: Figure): string => (x.range ? `${(x.range[0] / 1000).toFixed(2)}-${(x.range[1] / 1000).toFixed(2)}` : '');
  console.log(
    [
      'step'.padEnd(46),
      'time'.padStart(9),
      'range s'.padStart(10),
      'vs (a)'.padStart(7),
      'WAL'.padStart(10),
      'upd'.padStart(6),
      'dead'.padStart(6),
      '  ins/upd/unch/del',
    ].join(' '),
  );
  for (const [label, x] of table) {
    record.add(label, figures(x, a));
    console.log(
      [
        label.padEnd(46),
        seconds(x.ms).padStart(9),
        range(x).padStart(10),
        ratio(x).padStart(7),
        wal(x).padStart(10),
        String(x.updatedTuples ?? '').padStart(6),
        String(x.deadTuples ?? '').padStart(6),
        `  ${counts(x)}`,
      ].join(' '),
    );
  }
  console.log(`peak RSS of the exporter: ${(peakKiB / 1024).toFixed(0)} MiB`);
  console.log(`history: ${recorded} changes rows for ${written} inserts, updates and deletes ((j), then 2% deleted); (i) wrote ${unchangedRecorded}`);
  record.add('history rows', { changesRows: recorded, written, unchangedChangesRows: unchangedRecorded });
  const verdicts = new Verdicts();
  verdicts.check({ name: 'first-export', value: b.ms / a.ms, operator: '<=', target: 1.8, unit: 'x' }, `(b) first export ${ratio(b)} of (a)`);
  verdicts.check({ name: 'unchanged-export', value: c.ms / a.ms, operator: '<=', target: 1.3, unit: 'x' }, `(c) unchanged re-export ${ratio(c)} of (a)`);
  verdicts.check({ name: 'unchanged-export-wal', value: c.walBytes! / 1024 / 1024, operator: '<', target: 1, unit: 'MiB' }, `(c) WAL ${wal(c)}`);
  verdicts.check(
    { name: 'unchanged-export-tuples', value: c.deadTuples! + c.updatedTuples!, operator: '==', target: 0, unit: 'tuples' },
    `(c) ${c.deadTuples} dead tuples, ${c.updatedTuples} updates`,
  );
  verdicts.check(
    { name: 'per-row-upsert', value: e.ms / b.ms, operator: '>=', target: 7, unit: 'x' },
    `(e) per-row upsert ${(e.ms / b.ms).toFixed(1)}x slower than (b)`,
  );
  verdicts.check(
    { name: 'batch-upsert', value: f.ms / b.ms, operator: '>=', target: 1.3, unit: 'x' },
    `(f) 1,000-row upsert ${(f.ms / b.ms).toFixed(2)}x slower than (b)`,
  );
  verdicts.check(
    { name: 'never-analysed', value: g.ms / h.ms, operator: '<=', target: 1.5, unit: 'x' },
    `(g) export right after the first load, never analysed: ${(g.ms / h.ms).toFixed(2)}x (h), analysed`,
  );
  verdicts.check(
    { name: 'unchanged-with-history', value: i.ms / c.ms, operator: '<=', target: 1.05, unit: 'x' },
    `(i) unchanged re-export with history ${(i.ms / c.ms).toFixed(2)}x (c)`,
  );
  verdicts.check(
    { name: 'unchanged-history-rows', value: unchangedRecorded, operator: '==', target: 0, unit: 'rows' },
    `(i) ${unchangedRecorded} changes rows`,
  );
  verdicts.check(
    { name: 'changed-with-history', value: j.ms / d.ms, operator: '<=', target: 1.15, unit: 'x' },
    `(j) 5% changed with history ${(j.ms / d.ms).toFixed(2)}x (d)`,
  );
  verdicts.check(
    { name: 'history-rows', value: recorded - written, operator: '==', target: 0, unit: 'rows' },
    `${recorded} changes rows, ${written} inserts + updates + deletes`,
  );
  verdicts.check({ name: 'peak-rss', value: peakKiB / 1024, operator: '<', target: 256, unit: 'MiB' }, `peak RSS ${(peakKiB / 1024).toFixed(0)} MiB`);
  console.log(`\n${verdicts.report()}`);
  if (json) await record.write(json, verdicts);
  await server.dropCreatedDatabases();
  await rm(dir, { recursive: true, force: true });
}

if (process.argv[2] === FLOOR_FLAG) {
  writeResult(await rawCopy(process.env.DATABASE_URL!, process.argv[3]!));
} else {
  await main();
  // The embedded server's reaper stops it once this process is gone; the exit code is the verdicts' (1 on a MISS).
  process.exit();
}
