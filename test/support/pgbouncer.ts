import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { chown, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir, userInfo } from 'node:os';
import { delimiter, join } from 'node:path';
import pg from 'pg';
import { ensurePostgresUser, freePort } from './postgres.js';

/**
 * The PgBouncer test harness: a real `pgbouncer` in front of the test PostgreSQL (see
 * postgres.ts), listening on 127.0.0.1, by default in transaction pooling mode, the way fleets
 * run it. Every database of the server is reachable through it (`* =` fallback entry), so tests
 * keep their own database and only swap the URL's host and port (`url()`).
 *
 * Deliberately without `ignore_startup_parameters`: a client that sends a startup parameter
 * PgBouncer does not handle (such as statement_timeout) is refused, as in a default install.
 *
 * Authentication: the userlist holds the server URL's user and password; PgBouncer checks the
 * client's password against it (SCRAM) and logs in to the server with it. A URL without a
 * password (a trust server) gets `auth_type = trust`.
 *
 * PgBouncer refuses to run as root: running as root (CI containers), it runs as the `postgres`
 * system user, as the embedded PostgreSQL does, from a folder that user owns.
 *
 * When no `pgbouncer` binary is found (PATH, /usr/sbin, /usr/local/sbin, or `$PGBOUNCER`),
 * `pgbouncerSkipReason()` says so, and the tests using it skip with that reason.
 */

export interface PgBouncerOptions {
  /** `transaction` (default) or `session`. */
  poolMode?: 'transaction' | 'session';
  /** Server connections per database and user (`default_pool_size`, default 4). */
  poolSize?: number;
}

export interface PgBouncer {
  /** The port PgBouncer listens on (127.0.0.1). */
  readonly port: number;
  /** `databaseUrl` (a URL of the test server) pointed at PgBouncer instead. */
  url(databaseUrl: string): string;
  /** Runs a command on PgBouncer's admin console (`SHOW POOLS`, `SHOW STATS`, ...) and returns its rows. */
  admin<R extends pg.QueryResultRow = Record<string, unknown>>(command: string): Promise<R[]>;
  /** PgBouncer's log so far (its stderr). */
  log(): string;
  /** Stops PgBouncer (immediate shutdown) and removes its folder. */
  stop(): Promise<void>;
}

const SEARCH = ['/usr/sbin', '/usr/local/sbin', '/usr/local/bin', '/usr/bin', '/sbin'];

function executable(file: string): boolean {
  try {
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The pgbouncer executable: `$PGBOUNCER` when set, else the first one found on PATH or in the usual sbin folders. */
export function findPgBouncer(): string | undefined {
  if (process.env.PGBOUNCER) return executable(process.env.PGBOUNCER) ? process.env.PGBOUNCER : undefined;
  return [...(process.env.PATH ?? '').split(delimiter).filter(Boolean), ...SEARCH].map((dir) => join(dir, 'pgbouncer')).find(executable);
}

/** Why the PgBouncer tests cannot run here, or undefined when they can. Pass it to node:test's `skip`. */
export function pgbouncerSkipReason(): string | undefined {
  if (findPgBouncer()) return undefined;
  if (process.env.PGBOUNCER) return `PGBOUNCER=${process.env.PGBOUNCER} is not an executable file`;
  return `no pgbouncer binary (looked on PATH and in ${SEARCH.join(', ')}); install it (apt-get install pgbouncer) or set PGBOUNCER=/path/to/pgbouncer`;
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port; rejects when `child` exits first or after 15 s. */
function untilListening(port: number, child: ChildProcess, log: () => string): Promise<void> {
  return new Promise((resolve, reject) => {
    const deadline = Date.now() + 15_000;
    let exited = false;
    child.once('exit', (code, signal) => {
      exited = true;
      reject(new Error(`pgbouncer exited (${signal ?? code}) before listening:\n${log()}`));
    });
    const probe = (): void => {
      if (exited) return;
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        resolve();
      });
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > deadline) reject(new Error(`pgbouncer did not listen on port ${port} within 15 s:\n${log()}`));
        else setTimeout(probe, 50);
      });
    };
    probe();
  });
}

/**
 * Stops PgBouncer and removes its folder when this process ends, however it ends (even SIGKILL),
 * like the PostgreSQL harness: a detached shell waits for our pid to disappear, then sends
 * pgbouncer (only that pid) SIGTERM.
 */
function spawnReaper(pid: number, dir: string): void {
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null; do sleep 0.2; done`,
    `kill -TERM ${pid} 2>/dev/null`,
    `i=0; while kill -0 ${pid} 2>/dev/null && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done`,
    `kill -KILL ${pid} 2>/dev/null`,
    `rm -rf "$1"`,
  ].join('\n');
  const reaper = spawn('/bin/sh', ['-c', script, 'kollect-pgbouncer-reaper', dir], { detached: true, stdio: 'ignore' });
  reaper.unref();
}

const quoted = (value: string): string => `"${value.replace(/"/g, '""')}"`;

/**
 * Starts PgBouncer in front of the server of `serverUrl` (any URL of the test server: its host,
 * port, user and password are used). Throws when the binary is missing: check
 * `pgbouncerSkipReason()` first.
 */
export async function startPgBouncer(serverUrl: string, options: PgBouncerOptions = {}): Promise<PgBouncer> {
  const binary = findPgBouncer();
  if (!binary) throw new Error(pgbouncerSkipReason());
  const server = new URL(serverUrl);
  const user = decodeURIComponent(server.username) || userInfo().username;
  const password = decodeURIComponent(server.password);
  const ids = userInfo().uid === 0 ? await ensurePostgresUser() : undefined;
  const dir = await mkdtemp(join(tmpdir(), 'kollect-pgbouncer-'));
  if (ids) await chown(dir, ids.uid, ids.gid);
  const own = async (file: string, text: string): Promise<void> => {
    await writeFile(file, text, { mode: 0o600 });
    if (ids) await chown(file, ids.uid, ids.gid);
  };
  const userlist = join(dir, 'userlist.txt');
  await own(userlist, `${quoted(user)} ${quoted(password)}\n`);
  const logs: string[] = [];
  const log = (): string => logs.join('');

  for (let attempt = 0; ; attempt++) {
    const port = await freePort();
    const ini = join(dir, 'pgbouncer.ini');
    await own(
      ini,
      [
        '[databases]',
        // The fallback entry: any database name goes to the same name on the test server.
        `* = host=${server.hostname} port=${server.port || '5432'}`,
        '',
        '[pgbouncer]',
        'listen_addr = 127.0.0.1',
        `listen_port = ${port}`,
        'unix_socket_dir =',
        `auth_type = ${password ? 'scram-sha-256' : 'trust'}`,
        `auth_file = ${userlist}`,
        `admin_users = ${user}`,
        `pool_mode = ${options.poolMode ?? 'transaction'}`,
        `default_pool_size = ${options.poolSize ?? 4}`,
        'max_client_conn = 200',
        // The log goes to stderr (no logfile, no syslog); a test shows it when something fails.
        'log_connections = 0',
        'log_disconnections = 0',
        'log_pooler_errors = 1',
        '',
      ].join('\n'),
    );
    const child = spawn(binary, [ini], { ...ids, env: { LANG: 'C.UTF-8', PATH: process.env.PATH ?? '/usr/bin:/bin' }, stdio: ['ignore', 'pipe', 'pipe'] });
    for (const stream of [child.stdout, child.stderr]) {
      stream.setEncoding('utf8').on('data', (text: string) => {
        logs.push(text);
        if (logs.length > 500) logs.shift();
      });
    }
    try {
      await untilListening(port, child, log);
    } catch (error) {
      child.kill('SIGKILL');
      // Most likely the port was taken between the probe and the bind: try another.
      if (attempt < 2 && /Address already in use/i.test(log())) continue;
      await rm(dir, { recursive: true, force: true });
      throw error;
    }
    child.unref();
    for (const stream of [child.stdout, child.stderr]) (stream as unknown as { unref?: () => void }).unref?.();
    spawnReaper(child.pid!, dir);
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

    return {
      port,
      url(databaseUrl) {
        const url = new URL(databaseUrl);
        url.hostname = '127.0.0.1';
        url.port = String(port);
        return url.toString();
      },
      async admin(command) {
        const url = new URL(serverUrl);
        url.hostname = '127.0.0.1';
        url.port = String(port);
        url.pathname = '/pgbouncer';
        url.search = '';
        const client = new pg.Client({ connectionString: url.toString() });
        await client.connect();
        try {
          // The admin console speaks the simple query protocol only: no bind parameters.
          return (await client.query(command)).rows;
        } finally {
          await client.end();
        }
      },
      log,
      async stop() {
        if (child.exitCode === null && child.signalCode === null) {
          // Unreferenced so as not to keep a finished test alive; referenced again to wait for its exit.
          child.ref();
          child.kill('SIGTERM');
          await exited;
        }
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}
