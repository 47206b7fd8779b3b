/**
 * Fleet simulation (`npm run bench:fleet [-- --rows N] [--repetitions N] [--json FILE]`): 8 clusters of N rows
 * (default 100,000) exporting into one shared PostgreSQL table at once (the seed's ADR-0501
 * fleet), against one cluster exporting the same total number of rows alone. Each exporter is
 * the built CLI (`bin/kollect export --from STORE`) in a process of its own, as a CronJob runs it.
 *
 * Cases, each on a table of its own (config `table:`): round 1, the first export (every row
 * inserted), then round 2, the same stores again (every row unchanged); both rounds run
 * `--repetitions` times (default 3), each repetition from empty tables and each case after a
 * CHECKPOINT (so that no case writes out the pages of the one before), and each case is reported
 * by its median repetition. Prints per case the rows, the wall time, the ratio to the single
 * exporter, errors (of every repetition) and every process's exit code,
 * with PASS/MISS against the target (fleet time <= 1.2 x single time, no error), then checks that
 * every cluster's row count in the table is exact. While each case runs it samples
 * pg_stat_activity (what kollect's sessions wait on), ungranted locks and the machine's CPU, so a
 * MISS can be explained. Exits 1 on a MISS, an error or a wrong count.
 *
 * `--partition-by-cluster` creates both tables as `kollect db ddl --partition-by cluster` prints
 * them, with one partition per cluster, to compare a DBA's partitioned table with the plain one.
 * `--json FILE` also writes the result as JSON (scripts/support/bench-result.ts).
 *
 * PostgreSQL: DATABASE_URL when set (a fresh database is created on it and dropped afterwards),
 * else a private embedded server (test/support/postgres.ts).
 */
import { spawnSync } from 'node:child_process';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { RunResult } from '../src/run.js';
import { runKollect } from '../test/support/cli.js';
import { checkpoint, startPostgres, walPosition, walSince, withClient } from '../test/support/postgres.js';
import { buildStore, syntheticRows, tempDir } from '../test/support/store-fixture.js';
import { BenchRecord, jsonResultPath } from './support/bench-result.js';
import { buildKollect } from './support/build-kollect.js';
import { namespacesFor } from './support/fleet-load.js';
import { medianBy } from './support/median.js';
import { addClusterPartitions, createPartitioned } from './support/partitioned-table.js';
import { Verdicts } from './support/verdicts.js';

const CLUSTERS = 8;
/**
 * Rows per fleet cluster by default: the seed's design target per cluster. At a quarter of that,
 * eight unchanged exports (67 ms of CPU each, most of it Node's and the bundle's start: README,
 * bench:fleet) weigh as much as the database's work on the same 2 cores, and the ratio measures
 * process start-up more than sharing the table.
 */
const MISSION_ROWS_PER_CLUSTER = 100_000;
const TARGET = 1.2;
const FLEET_TABLE = 'fleet_items';
const SINGLE_TABLE = 'single_items';
const SINGLE_CLUSTER = 'fleet-single';

const { values: flags } = parseArgs({
  options: {
    rows: { type: 'string', default: String(MISSION_ROWS_PER_CLUSTER) },
    repetitions: { type: 'string', default: '3' },
    'partition-by-cluster': { type: 'boolean', default: false },
    // Read by jsonResultPath; declared so that parseArgs accepts it.
    json: { type: 'string' },
  },
});
const ROWS = Number(flags.rows);
if (!Number.isInteger(ROWS) || ROWS < 100) throw new Error(`--rows must be an integer >= 100, got ${flags.rows}`);
const REPETITIONS = Number(flags.repetitions);
if (!Number.isInteger(REPETITIONS) || REPETITIONS < 1) throw new Error(`--repetitions must be a whole number >= 1, got ${flags.repetitions}`);

interface Exporter {
  cluster: string;
  store: string;
  config: string;
  rows: number;
}

interface ProcessOutcome {
  cluster: string;
  code: number | null;
  ms: number;
  /** When the process ended (performance.now()). */
  endedAt: number;
  /** The postgres sink's own duration (from the JSON result), when it succeeded. */
  sinkMs?: number;
  error?: string;
}

/** Which count of the postgres result must equal the store's rows: all inserted, or all unchanged. */
type Expect = 'added' | 'unchanged';

async function runExporter(exporter: Exporter, env: NodeJS.ProcessEnv, expect: Expect): Promise<ProcessOutcome> {
  const started = performance.now();
  const { code, stdout, stderr } = await runKollect(['export', '--from', exporter.store, '-c', exporter.config, '--output', 'json'], { env });
  const endedAt = performance.now();
  const outcome: ProcessOutcome = { cluster: exporter.cluster, code, ms: endedAt - started, endedAt };
  try {
    const result = JSON.parse(stdout) as RunResult;
    const sink = result.sinks[0];
    if (sink?.ok) {
      outcome.sinkMs = 'durationMs' in sink.result ? sink.result.durationMs : undefined;
      const t = sink.result.totals;
      if (t[expect] !== exporter.rows) outcome.error = `expected ${exporter.rows} rows ${expect}, got ${JSON.stringify(t)}`;
    } else if (sink) {
      outcome.error = `${sink.error.code}: ${sink.error.message}`;
    }
  } catch {
    outcome.error = (stderr.trim().split('\n').pop() ?? '').slice(0, 300) || `no JSON result (exit ${code})`;
  }
  if (code !== 0 && outcome.error === undefined) outcome.error = `exit ${code}`;
  return outcome;
}

const CLOCK_TICKS = Number(spawnSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).stdout.trim()) || 100;

/**
 * CPU seconds (user + system) of the reaped children of a process, from /proc/PID/stat
 * (cutime, cstime); undefined when the process is not on this machine.
 */
async function childCpuSeconds(pid: number | 'self'): Promise<number | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at state, field 3.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS;
  } catch {
    return undefined;
  }
}

/** The parent of a process on this machine (for a backend: the postmaster). */
async function parentOf(pid: number): Promise<number | undefined> {
  try {
    const text = await readFile(`/proc/${pid}/stat`, 'utf8');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[1]);
  } catch {
    return undefined;
  }
}

/** Machine-wide CPU counters from /proc/stat (busy and total jiffies). */
async function cpuTimes(): Promise<{ busy: number; total: number }> {
  const line = (await readFile('/proc/stat', 'utf8')).split('\n')[0] ?? '';
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  const total = fields.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

interface Diagnostics {
  /** `wait_event_type:wait_event` (or `CPU` when not waiting) -> samples of active kollect sessions. */
  waits: Map<string, number>;
  samples: number;
  /** Most ungranted locks seen at once. */
  maxLockWaits: number;
  /** Most kollect sessions active at once. */
  maxActive: number;
  cpuBusy: number;
  load1: number;
  /** CPU seconds of the kollect processes (this script's reaped children). */
  kollectCpu: number;
  /** CPU seconds of the PostgreSQL backends that ended meanwhile; undefined for a remote server. */
  postgresCpu?: number;
}

/** Samples what kollect's sessions do every 100 ms until `stop()`. */
function sampleDatabase(url: string): { stop: () => Promise<Diagnostics> } {
  const diag: Diagnostics = { waits: new Map(), samples: 0, maxLockWaits: 0, maxActive: 0, cpuBusy: 0, load1: 0, kollectCpu: 0 };
  let running = true;
  const cpuStart = cpuTimes();
  const kollectStart = childCpuSeconds('self');
  let postmaster: { pid: number; start: number } | undefined;
  const loop = withClient(url, async (client) => {
    // The sampler's own backend is a child of the postmaster, whose reaped-children CPU time
    // then grows by what every backend that ends (the exporters') used.
    const backend = (await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]?.pid ?? 0;
    const pid = await parentOf(backend);
    const start = pid === undefined ? undefined : await childCpuSeconds(pid);
    if (pid !== undefined && start !== undefined) postmaster = { pid, start };
    while (running) {
      const activity = await client.query<{ wait: string | null; n: number }>(
        `SELECT coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait, count(*)::int AS n
           FROM pg_stat_activity WHERE application_name = 'kollect' AND state = 'active' AND pid <> pg_backend_pid()
          GROUP BY 1`,
      );
      const locks = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted');
      let active = 0;
      for (const row of activity.rows) {
        diag.waits.set(row.wait ?? 'CPU', (diag.waits.get(row.wait ?? 'CPU') ?? 0) + row.n);
        active += row.n;
      }
      diag.samples++;
      diag.maxActive = Math.max(diag.maxActive, active);
      diag.maxLockWaits = Math.max(diag.maxLockWaits, locks.rows[0]?.n ?? 0);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  });
  return {
    stop: async () => {
      running = false;
      await loop;
      const [a, b] = [await cpuStart, await cpuTimes()];
      diag.cpuBusy = (b.busy - a.busy) / Math.max(1, b.total - a.total);
      diag.load1 = loadavg()[0] ?? 0;
      diag.kollectCpu = ((await childCpuSeconds('self')) ?? 0) - ((await kollectStart) ?? 0);
      if (postmaster) {
        // Backends end a moment after their client disconnects.
        await new Promise((resolve) => setTimeout(resolve, 300));
        const end = await childCpuSeconds(postmaster.pid);
        if (end !== undefined) diag.postgresCpu = end - postmaster.start;
      }
      return diag;
    },
  };
}

interface CaseResult {
  name: string;
  rows: number;
  ms: number;
  outcomes: ProcessOutcome[];
  diag: Diagnostics;
  /** WAL the case wrote (the sampler's own queries write none). */
  walBytes: number;
}

async function runCase(name: string, exporters: Exporter[], expect: Expect, env: NodeJS.ProcessEnv, databaseUrl: string): Promise<CaseResult> {
  // Every case starts from clean buffers: without it, the case run second wrote out the pages
  // the case before it had dirtied (the single exporter took 1.75-2.09 s after the fleet instead of 1.34-1.57 s before it).
  await checkpoint(databaseUrl);
  const walStart = await walPosition(databaseUrl);
  const sampler = sampleDatabase(databaseUrl);
  const started = performance.now();
  const outcomes = await Promise.all(exporters.map((e) => runExporter(e, env, expect)));
  const ms = performance.now() - started;
  const diag = await sampler.stop();
  const walBytes = await walSince(databaseUrl, walStart);
  return { name, rows: exporters.reduce((n, e) => n + e.rows, 0), ms, outcomes, diag, walBytes };
}

const seconds = (ms: number): string => (ms / 1000).toFixed(2);

/**
 * From the first export transaction's start to the last one's end: the time the database was
 * busy with the case, without process start-up (each sink's own duration, ending about when its
 * process ends).
 */
function databaseSpan(c: CaseResult): number {
  const ends = c.outcomes.map((o) => o.endedAt);
  const starts = c.outcomes.map((o) => o.endedAt - (o.sinkMs ?? 0));
  return Math.max(...ends) - Math.min(...starts);
}

function topWaits(diag: Diagnostics): string {
  const total = [...diag.waits.values()].reduce((a, b) => a + b, 0);
  if (total === 0) return 'no active kollect session sampled';
  return [...diag.waits.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 4)
    .map(([wait, n]) => `${wait} ${Math.round((100 * n) / total)}%`)
    .join(', ');
}

async function writeConfig(dir: string, cluster: string, table: string): Promise<string> {
  const path = join(dir, `${cluster}.yaml`);
  await writeFile(
    path,
    [
      `cluster: ${cluster}`,
      'sinks:',
      `  - { name: fleet-db, type: postgres, url: { env: DATABASE_URL }, ssl: { mode: disable }, table: ${table}, onLocked: wait }`,
    ].join('\n'),
  );
  return path;
}

async function main(): Promise<void> {
  const json = await jsonResultPath();
  buildKollect();
  const work = await tempDir('kollect-fleet-sim-');
  const server = await startPostgres();
  const databaseUrl = await server.createDatabase();
  const env = { DATABASE_URL: databaseUrl };
  const record = new BenchRecord('bench:fleet', {
    clusters: CLUSTERS,
    rowsPerCluster: ROWS,
    repetitions: REPETITIONS,
    partitionByCluster: flags['partition-by-cluster'],
    postgres: server.embedded ? 'embedded' : 'DATABASE_URL',
  });
  const verdicts = new Verdicts();
  try {
    process.stdout.write(
      `machine: ${cpus().length} cores; PostgreSQL: ${server.embedded ? 'embedded (test/support/postgres.ts)' : 'DATABASE_URL'}; ` +
        `tables: ${flags['partition-by-cluster'] ? 'partitioned by cluster (kollect db ddl --partition-by cluster)' : 'plain (kollect db init)'}` +
        `${process.env.NODE_EXTRA_CA_CERTS ? `; exporters run without this machine's NODE_EXTRA_CA_CERTS (KOLLECT_CHILD_ENV in test/support/cli.ts)` : ''}\n` +
        `building stores: ${CLUSTERS} x ${ROWS.toLocaleString('en-US')} rows (${namespacesFor(ROWS)} namespaces each) and 1 x ${(CLUSTERS * ROWS).toLocaleString('en-US')} rows (${namespacesFor(CLUSTERS * ROWS)} namespaces) ...\n`,
    );
    const fleet: Exporter[] = [];
    for (let i = 1; i <= CLUSTERS; i++) {
      const cluster = `fleet-${i}`;
      const store = join(work, `store-${cluster}`);
      await buildStore(store, cluster, syntheticRows({ cluster, count: ROWS, namespaces: namespacesFor(ROWS) }));
      fleet.push({ cluster, store, config: await writeConfig(work, cluster, FLEET_TABLE), rows: ROWS });
    }
    const singleStore = join(work, 'store-single');
    await buildStore(
      singleStore,
      SINGLE_CLUSTER,
      syntheticRows({ cluster: SINGLE_CLUSTER, count: CLUSTERS * ROWS, namespaces: namespacesFor(CLUSTERS * ROWS) }),
    );
    const single: Exporter[] = [
      { cluster: SINGLE_CLUSTER, store: singleStore, config: await writeConfig(work, SINGLE_CLUSTER, SINGLE_TABLE), rows: CLUSTERS * ROWS },
    ];

    // One `db init` per table: the fleet's and the single exporter's, both fresh. Or, with
    // --partition-by-cluster, the DDL `kollect db ddl --partition-by cluster` gives a DBA, plus
    // one partition per fleet cluster.
    for (const [table, exporters] of [
      [FLEET_TABLE, fleet],
      [SINGLE_TABLE, single],
    ] as const) {
      if (flags['partition-by-cluster']) {
        await createPartitioned(databaseUrl, exporters[0]!.config, env);
        await addClusterPartitions(
          databaseUrl,
          table,
          exporters.map((e) => e.cluster),
        );
      }
      const init = await runKollect(['db', 'init', '-c', exporters[0]!.config], { env });
      if (init.code !== 0) throw new Error(`kollect db init failed: ${init.stderr}`);
    }

    const rounds: Array<[string, Expect]> = [
      ['1: first export (all inserted)', 'added'],
      ['2: unchanged re-export', 'unchanged'],
    ];
    // Each repetition starts from empty tables, so that round 1 is a first export every time; a
    // case is then reported by its median repetition (by time), as one run on this machine
    // swings by a fifth.
    const runs = rounds.map(() => ({ single: [] as CaseResult[], fleet: [] as CaseResult[] }));
    for (let repetition = 1; repetition <= REPETITIONS; repetition++) {
      if (repetition > 1) await withClient(databaseUrl, (client) => client.query(`TRUNCATE public.${FLEET_TABLE}, public.${SINGLE_TABLE}`));
      for (const [i, [round, expect]] of rounds.entries()) {
        process.stdout.write(`repetition ${repetition}/${REPETITIONS}, round ${round} ...\n`);
        runs[i]!.single.push(await runCase('1 exporter', single, expect, env, databaseUrl));
        runs[i]!.fleet.push(await runCase(`${CLUSTERS} exporters at once`, fleet, expect, env, databaseUrl));
      }
    }
    const cases = rounds.map(([round], i) => ({
      round,
      single: medianBy(runs[i]!.single, (c) => c.ms)!,
      fleet: medianBy(runs[i]!.fleet, (c) => c.ms)!,
      all: runs[i]!,
    }));

    const rows: string[][] = [['ROUND', 'CASE', 'ROWS', 'SECONDS', 'RATIO', 'ERRORS', 'EXIT CODES', 'DB SPAN S', 'DB RATIO', 'VERDICT', 'EVERY RUN S']];
    const notes: string[] = [];
    for (const { round, fleet: f, single: s, all } of cases) {
      const roundNumber = round.split(':')[0]!;
      let roundErrors = 0;
      for (const [c, every] of [
        [s, all.single],
        [f, all.fleet],
      ] as const) {
        // Errors of every repetition count, not only the median one's.
        const errors = every.flatMap((run) => run.outcomes.filter((o) => o.error !== undefined));
        roundErrors += errors.length;
        const ratio = c.ms / s.ms;
        const pass = c === s ? errors.length === 0 : ratio <= TARGET && errors.length === 0;
        if (c === f)
          verdicts.check(
            { name: `round-${roundNumber}`, value: ratio, operator: '<=', target: TARGET, unit: 'x' },
            `round ${roundNumber}: ${c.name} ${ratio.toFixed(2)}x the time of 1 exporter`,
          );
        record.add(`round ${roundNumber}, ${c.name}`, {
          rows: c.rows,
          ms: c.ms,
          ratio,
          errors: errors.length,
          databaseSpanMs: databaseSpan(c),
          databaseRatio: databaseSpan(c) / databaseSpan(s),
          walBytes: c.walBytes,
          machineCpuBusy: c.diag.cpuBusy,
          kollectCpuMs: c.diag.kollectCpu * 1000,
          ...(c.diag.postgresCpu === undefined ? {} : { postgresCpuMs: c.diag.postgresCpu * 1000 }),
        });
        rows.push([
          roundNumber,
          c.name,
          c.rows.toLocaleString('en-US'),
          seconds(c.ms),
          `${ratio.toFixed(2)}x`,
          String(errors.length),
          c.outcomes.map((o) => String(o.code)).join(' '),
          seconds(databaseSpan(c)),
          `${(databaseSpan(c) / databaseSpan(s)).toFixed(2)}x`,
          c === s ? (pass ? 'ok' : 'ERRORS') : `${pass ? 'PASS' : 'MISS'} (<= ${TARGET}x)`,
          every.map((run) => seconds(run.ms)).join(' '),
        ]);
        for (const e of errors) notes.push(`  round ${round}, ${e.cluster}: ${e.error}`);
        notes.push(
          `  round ${round.split(':')[0]}, ${c.name}: waits ${topWaits(c.diag)}; max ${c.diag.maxActive} active sessions, ` +
            `max ${c.diag.maxLockWaits} ungranted locks; machine CPU busy ${Math.round(c.diag.cpuBusy * 100)}%, load ${c.diag.load1.toFixed(1)}; ` +
            `CPU used: kollect ${c.diag.kollectCpu.toFixed(1)} s, postgres backends ${c.diag.postgresCpu === undefined ? 'n/a (remote)' : `${c.diag.postgresCpu.toFixed(1)} s`}; ` +
            `WAL ${(c.walBytes / 1e6).toFixed(1)} MB`,
        );
      }
      verdicts.check(
        { name: `round-${roundNumber}-errors`, value: roundErrors, operator: '==', target: 0, unit: 'errors' },
        `round ${roundNumber}: errors in every repetition: ${roundErrors}`,
      );
    }
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
    process.stdout.write(
      `\n${rows
        .map((r) =>
          r
            .map((cell, i) => cell.padEnd(widths[i]!))
            .join('  ')
            .trimEnd(),
        )
        .join('\n')}\n\n`,
    );
    process.stdout.write(`round 1 is the first export into an empty table, round 2 re-exports the same stores (nothing written).\n`);
    process.stdout.write(
      `SECONDS: wall time from spawning the processes to the last exit, of the median of ${REPETITIONS} repetitions (each from empty tables, each case after a CHECKPOINT); the verdict is on its ratio.\n` +
        "DB SPAN: from the first export transaction to the last commit (the postgres sink's own time, without process start-up).\n",
    );
    process.stdout.write(
      `what kollect's sessions did while the median run of each case ran (pg_stat_activity, sampled every 100 ms):\n${notes.join('\n')}\n\n`,
    );

    // Every cluster's rows, exactly: N per fleet cluster, 8N for the single exporter.
    const counts = await withClient(databaseUrl, async (client) => {
      const out = new Map<string, number>();
      for (const table of [FLEET_TABLE, SINGLE_TABLE]) {
        const result = await client.query<{ cluster: string; n: number }>(`SELECT cluster, count(*)::int AS n FROM public.${table} GROUP BY cluster`);
        for (const row of result.rows) out.set(row.cluster, row.n);
      }
      return out;
    });
    const expected = new Map([...fleet, ...single].map((e) => [e.cluster, e.rows]));
    let wrongCounts = 0;
    for (const [cluster, rows] of expected) {
      const got = counts.get(cluster) ?? 0;
      const ok = got === rows;
      if (!ok) wrongCounts++;
      process.stdout.write(
        `${ok ? 'ok  ' : 'BAD '} ${cluster.padEnd(14)} ${got.toLocaleString('en-US').padStart(9)} rows in the table (expected ${rows.toLocaleString('en-US')})\n`,
      );
    }
    const unexpected = [...counts.keys()].filter((c) => !expected.has(c));
    if (unexpected.length > 0) process.stdout.write(`BAD  rows of unexpected clusters: ${unexpected.join(', ')}\n`);
    verdicts.check(
      { name: 'wrong-row-counts', value: wrongCounts + unexpected.length, operator: '==', target: 0, unit: 'clusters' },
      `clusters whose rows in the table are not exactly their store's: ${wrongCounts + unexpected.length}`,
    );
    process.stdout.write(`\n${verdicts.report()}\n`);
    process.stdout.write(
      `\n${verdicts.pass ? 'PASS' : 'MISS'}: ${CLUSTERS} exporters at once vs 1 exporter of the same rows (target <= ${TARGET}x, no errors, exact counts)\n`,
    );
    if (json) await record.write(json, verdicts);
  } finally {
    await server.dropCreatedDatabases();
    await rm(work, { recursive: true, force: true });
  }
  // Exit now, with the verdicts' code (1 on a MISS), whatever handles are left open.
  process.exit();
}

await main();
