import { pipeline } from 'node:stream/promises';
import pg from 'pg';
import { from as copyFrom } from 'pg-copy-streams';
import { compareKeys } from '../../compare.js';
import type { PostgresSinkConfig } from '../../config/schema.js';
import { InterruptedError, KollectError, LockBusyError, SinkError, StoreError } from '../../errors.js';
import { redact } from '../../redact.js';
import { namespaceOfShard, shardKeyOf } from '../../rows/row.js';
import type { CollectStore } from '../../store/collect-store.js';
import { fingerprintOf } from '../../store/fingerprint.js';
import type { ShardEntry } from '../../store/store-manifest.js';
import {
  addCounts,
  describeReplacedValue,
  emptyCounts,
  type ChangeCounts,
  type ReplacedValues,
  type ShardChange,
  type Sink,
  type SinkContext,
  type SinkPlan,
  type SinkResult,
} from '../sink.js';
import { poolConfig, setLocalStatementTimeout, SET_LOCAL_STATEMENT_TIMEOUT, statementTimeoutParam, type ConnectionDeps } from './connection.js';
import { copyRowsSource, CopyLines, keyInShard, STAGING_COLUMN_LIST, STAGING_COLUMNS } from './copy-rows.js';
import { exportLockKey, initSchema, ITEM_COLUMNS, KEY_COLUMNS, tableRefs, type InitResult, type TableNames, type TableRefs } from './schema.js';

/**
 * The PostgreSQL sink: the shared fleet table of ADR-0501.
 *
 * One export is one transaction:
 *  1. an advisory transaction lock on (table, cluster): two runs of one cluster never overlap,
 *     other clusters proceed side by side;
 *  2. compare each shard's fingerprint (count and summed checksums of its rows) with the same
 *     sum over the cluster's stored rows of that namespace, in one scan: a shard the table holds
 *     exactly is left out of steps 3 to 5 (an hourly re-export of a quiet cluster sends nothing);
 *  3. COPY the other shards into a temporary staging table (ON COMMIT DROP, not WAL-logged, no
 *     index, not ANALYZEd: measured 15-19% slower for no better plan); JSON and timestamps are
 *     typed there, so the server parses them while it receives them. The first export of a
 *     cluster (no row of it in the table) has nothing to compare, diff or delete: it COPYs
 *     straight into the table and skips steps 2, 4 and 5;
 *  4. diff staging against the cluster's stored checksums and upsert only the rows that are new
 *     or changed. A plain `ON CONFLICT DO UPDATE ... WHERE checksum IS DISTINCT FROM` over every
 *     staged row would still lock every conflicting row and write about as much WAL as the
 *     table; filtering first leaves unchanged rows untouched (no update, no dead tuple, no WAL);
 *  5. delete this cluster's rows of COMPLETELY listed types whose key was not staged, outside the
 *     shards left out in step 2: rows of a type listed incompletely (403, error, interrupted) are
 *     never deleted. Planned without nested loops: no plan may depend on statistics that may not
 *     exist yet (mergeStaged);
 *  6. record the run; commit.
 */

/** What the sink takes from outside, so tests use a real server with their own pool or env. */
export interface PostgresSinkDeps extends ConnectionDeps {
  /** Creates the connection pool (default `new pg.Pool(options)`). */
  createPool?: (options: pg.PoolConfig) => pg.Pool;
  /** How long an abort waits for its cancel to run before it closes the connection instead (default CANCEL_WAIT_MS). */
  cancelWaitMs?: number;
}

/**
 * How long the cancel of a running statement (on SIGTERM) may take, connecting included, before
 * kollect closes the export's connection instead. Well inside a pod's default 30 s grace period.
 */
export const CANCEL_WAIT_MS = 10_000;

/** A transaction that an abort can cancel (see openTransaction in createPostgresSink). */
interface CancellableTransaction {
  /** The checked-out client; run the transaction's statements on it. */
  client: pg.PoolClient;
  /** The error the connection broke with, if it did. */
  broken(): Error | undefined;
  /** Runs `sql` (BEGIN and its options), then reads the backend pid and sets the statement timeout (SET LOCAL). */
  begin(sql: string): Promise<void>;
  /** Commits; refuses (InterruptedError) when the run was aborted before COMMIT was sent. No cancel is sent once COMMIT is. */
  commit(): Promise<void>;
  /** Ends an open transaction without committing, once a cancel on its way has landed; a no-op when none is open. */
  rollback(): Promise<void>;
  /** Returns the client to the pool, or destroys it when its connection is broken or was closed mid-transaction. */
  release(): void;
}

const STAGING = 'pg_temp.kollect_staging';
/** The upsert's SET list: every column but the key. */
const UPDATE_SET = ITEM_COLUMNS.filter((c) => !(KEY_COLUMNS as readonly string[]).includes(c))
  .map((c) => `${c} = EXCLUDED.${c}`)
  .join(', ');
const FETCH_ROWS = 2000;
/** Socket errors of a connection that broke under a running statement. */
const CONNECTION_LOST = new Set(['EPIPE', 'ECONNRESET']);
/** SQLSTATEs after which the whole export is retried once. */
const RETRYABLE = new Set(['40001', '40P01']);

interface PgError extends Error {
  code?: string;
  /** Where the statement was: for a COPY, `COPY <table>, line <n>, column <name>: ...`. */
  where?: string;
}

/** The pg error in an error's cause chain, if any. */
function pgErrorOf(error: unknown): PgError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    if (current instanceof pg.DatabaseError) return current as PgError;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

interface ApplyCounts {
  rows: number;
  /** Rows sent to the database: the rows of every shard whose stored rows did not already match. */
  staged: number;
  totals: ChangeCounts;
  shards: ShardChange[];
  /** Values sent with U+FFFD in place of NUL. */
  replaced: ReplacedValues;
}

/** Per-shard changes sorted by shard (like the store's shards), and their totals: what apply() and plan() report. */
function shardChanges(perShard: Iterable<[string, ChangeCounts]>): Pick<ApplyCounts, 'totals' | 'shards'> {
  const shards: ShardChange[] = [...perShard].sort(compareKeys).map(([shard, counts]) => ({ shard, counts }));
  const totals = emptyCounts();
  for (const s of shards) addCounts(totals, s.counts);
  return { totals, shards };
}

/** What an export did per shard, from the rows it staged, wrote and deleted there. */
function summarise(staged: Map<string, number>, written: Map<string, { inserted: number; updated: number }>, deleted: Map<string, number>): Pick<ApplyCounts, 'totals' | 'shards'> {
  const keys = new Set<string>([...staged.keys(), ...written.keys(), ...deleted.keys()]);
  return shardChanges(
    [...keys].map((shard): [string, ChangeCounts] => {
      const w = written.get(shard) ?? { inserted: 0, updated: 0 };
      const rows = staged.get(shard) ?? 0;
      return [shard, { added: w.inserted, changed: w.updated, unchanged: Math.max(0, rows - w.inserted - w.updated), removed: deleted.get(shard) ?? 0 }];
    }),
  );
}

/**
 * Turns any failure into a typed error with the PG message, code and a hint where one helps,
 * never a secret. `outcome` says what became of the transaction.
 */
function sinkError(config: PostgresSinkConfig, secrets: readonly string[], error: unknown, action: string, outcome?: string): KollectError {
  if (error instanceof KollectError) return error;
  const table = `${config.schema}.${config.table}`;
  const pgError = pgErrorOf(error);
  const base = redact(error instanceof Error ? error.message : String(error), secrets);
  const tail = outcome ? `; ${outcome}` : '';
  if (pgError) {
    const hint =
      pgError.code === '42P01' || pgError.code === '3F000'
        ? `; run "kollect db init" to create ${table} and ${config.schema}.${config.runsTable}`
        : pgError.code === '57014'
          ? ` (statementTimeout is ${config.statementTimeout} ms)`
          : '';
    return new SinkError(config.name, `${action} failed: ${base} (SQLSTATE ${pgError.code ?? 'unknown'})${hint}${tail}`, { table, sqlstate: pgError.code }, { cause: error });
  }
  const lost = CONNECTION_LOST.has((error as NodeJS.ErrnoException).code ?? '') || base.startsWith('Connection terminated');
  return new SinkError(config.name, `${action} failed: ${lost ? `the connection to the database broke (${base})` : base}${tail}`, { table }, { cause: error });
}

/**
 * What the server says of a COPY line that no spool line kollect writes can be: a line with a
 * field too many or too few (22P04), or labels or attributes that are not JSON (22P02; every
 * other staged column is text, or a timestamp, whose 22007 can come from what a cluster sent).
 */
const DAMAGED_LINE = new Set(['22P04', '22P02']);

/** A COPY the server refused for a line the store cannot have been written with, as STORE_INVALID naming its shard; undefined for any other failure. */
function damagedStoreError(store: CollectStore, lines: CopyLines, error: unknown): StoreError | undefined {
  const pgError = pgErrorOf(error);
  if (!pgError?.code || !DAMAGED_LINE.has(pgError.code)) return undefined;
  // A JSON error's context starts with the JSON's own position; the COPY's line follows.
  const line = /^COPY [^,\n]+, line (\d+)/m.exec(pgError.where ?? '')?.[1];
  const shard = line === undefined ? undefined : lines.shardOf(Number(line));
  const where = shard === undefined ? 'a line' : `shard "${shard}" holds a line (line ${line} of the COPY) that`;
  return new StoreError(
    `store ${store.dir} is damaged: ${where} is not a row as kollect spools it: PostgreSQL refused it with ${JSON.stringify(pgError.message)} (SQLSTATE ${pgError.code}); collect again`,
    { dir: store.dir, ...(shard === undefined ? {} : { shard }), sqlstate: pgError.code },
    { cause: error },
  );
}

/** Resource types listed completely: only their absent rows may be deleted. */
function completeTypes(store: CollectStore): { groups: string[]; resources: string[] } {
  const complete = store.resources.filter((r) => r.complete);
  return { groups: complete.map((r) => r.group), resources: complete.map((r) => r.resource) };
}

/** What the sink reports beyond the shared counts: its table, and the counts in database words. */
export interface PostgresCounts {
  /** `schema.table`. */
  table: string;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
}
export type PostgresSinkPlan = SinkPlan & PostgresCounts;
export type PostgresSinkResult = SinkResult &
  PostgresCounts & {
    /** Rows sent to the database (COPY): shards whose stored rows already matched the store's are not. */
    staged: number;
    replaced: ReplacedValues;
  };

export function createPostgresSink(config: PostgresSinkConfig, deps: PostgresSinkDeps = {}): Sink {
  const names: TableNames = { schema: config.schema, table: config.table, runsTable: config.runsTable };
  const refs: TableRefs = tableRefs(names);
  /** The pool and the options it was made with (a cancel opens one more connection with them). */
  let connection: Promise<{ pool: pg.Pool; options: pg.PoolConfig }> | undefined;
  /** What error messages must never show: the URL, the password. */
  let secrets: string[] = [];

  function connect(): Promise<{ pool: pg.Pool; options: pg.PoolConfig }> {
    connection ??= poolConfig(config, deps).then(({ options, secrets: s }) => {
      secrets = s;
      const pool = (deps.createPool ?? ((o: pg.PoolConfig) => new pg.Pool(o)))(options);
      // An idle client losing its connection must not crash the process; the next checkout reconnects.
      pool.on('error', () => undefined);
      return { pool, options };
    });
    connection.catch(() => {
      connection = undefined;
    });
    return connection;
  }

  const toSinkError = (error: unknown, action: string, outcome?: string): KollectError => sinkError(config, secrets, error, action, outcome);

  /** The pool for an export or a plan: none once the run is aborted; failing to make it is the sink's error. */
  async function openPool(action: 'export' | 'plan', signal: AbortSignal): Promise<pg.Pool> {
    if (signal.aborted) throw interrupted(action);
    try {
      return (await connect()).pool;
    } catch (error) {
      throw toSinkError(error, 'connecting');
    }
  }

  /** A plan or result with the table and the inserted / updated / unchanged / deleted counts (`--output json`). */
  function report(plan: SinkPlan): PostgresSinkPlan {
    const t = plan.totals;
    return { ...plan, table: refs.itemsLabel, inserted: t.added, updated: t.changed, unchanged: t.unchanged, deleted: t.removed };
  }

  function interrupted(action: string): InterruptedError {
    return new InterruptedError(`sink "${config.name}": ${action} interrupted; the transaction was rolled back, nothing was written`, { sink: config.name });
  }

  /**
   * One transaction on a checked-out client that an abort (SIGTERM) can cancel, safe behind
   * PgBouncer in transaction pooling mode, where a client's statements outside a transaction may
   * each run on a different server connection, and a server connection goes to another client
   * as soon as a transaction ends:
   *
   * - `begin()` reads the backend pid INSIDE the transaction, right after BEGIN: only there is
   *   the server connection pinned to this client. A pid read before BEGIN may belong to a
   *   backend that is by then running another client's (another cluster's) transaction.
   * - `begin()` also sets the statement timeout with SET LOCAL (SET_LOCAL_STATEMENT_TIMEOUT),
   *   not as a startup parameter, which PgBouncer refuses.
   * - On abort, `pg_cancel_backend(pid)` runs from a second connection, only while the
   *   transaction is open (not once COMMIT has been sent), and the transaction is not ended
   *   until that cancel has run. A cancel that lands while the backend waits for our next
   *   command is ignored by PostgreSQL ("ignore the cancel request while reading a command"),
   *   so it cannot outlive the transaction either. If the cancel cannot be settled in time
   *   (PgBouncer's pool is full and the canceller waits for a server connection, which our
   *   own transaction may hold), the connection is closed instead of rolled back: PgBouncer
   *   then closes that server connection (a client that leaves in the middle of a transaction
   *   leaves an unusable server), and PostgreSQL rolls back, so the backend is never handed
   *   to another client while our cancel might still reach it.
   */
  async function openTransaction(pool: pg.Pool, ctx: SinkContext, action: 'export' | 'plan'): Promise<CancellableTransaction> {
    const client = await pool.connect();
    let brokenBy: Error | undefined;
    const onError = (error: Error): void => {
      brokenBy = error;
    };
    // A checked-out pg client emits 'error' when its connection dies; unhandled, that would crash.
    client.on('error', onError);
    let open = false;
    /** The backend running this transaction; 0 when no cancel may be sent (before BEGIN, from COMMIT on). */
    let pid = 0;
    let cancelling: Promise<boolean> | undefined;
    let destroy = false;
    const onAbort = (): void => {
      if (!pid || cancelling) return;
      ctx.log.debug('cancelling the running statement', { sink: config.name, pid });
      cancelling = cancelBackend(pid, ctx.log);
      void cancelling.then((settled) => {
        if (settled) return;
        // Ends the running statement now rather than when it finishes by itself: the server
        // side sees the client leave in the middle of its transaction (see above).
        destroy = true;
        client.connection.stream.destroy();
      });
    };
    ctx.signal.addEventListener('abort', onAbort, { once: true });
    return {
      client,
      broken: () => brokenBy,
      async begin(sql) {
        await client.query(sql);
        open = true;
        const begun = await client.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid, ${SET_LOCAL_STATEMENT_TIMEOUT} AS statement_timeout`, [
          statementTimeoutParam(config),
        ]);
        pid = begun.rows[0]?.pid ?? 0;
        if (ctx.signal.aborted) throw interrupted(action);
      },
      async commit() {
        if (ctx.signal.aborted) throw interrupted(action);
        // From here on, no cancel is sent: one arriving after COMMIT could hit whatever the
        // pooler runs next on this backend. COMMIT itself is short.
        pid = 0;
        await client.query('COMMIT');
        open = false;
      },
      async rollback() {
        // Let a cancel on its way land while the backend is still ours.
        const settled = cancelling ? await cancelling : true;
        pid = 0;
        if (!open) return;
        open = false;
        if (brokenBy || !settled || destroy) {
          destroy = true;
          return;
        }
        // After a cancel or CopyFail the connection is usable again and only needs ROLLBACK.
        await client.query('ROLLBACK').catch(() => {
          destroy = true;
        });
      },
      release() {
        ctx.signal.removeEventListener('abort', onAbort);
        client.off('error', onError);
        client.release(destroy || brokenBy !== undefined);
      },
    };
  }

  /**
   * Cancels the statement backend `pid` is running, from a separate short-lived connection
   * (through the same URL, so through PgBouncer if the export goes through it). Resolves true
   * when the cancel is settled: it ran, or it never left this process (the connection failed),
   * so nothing of it can reach the backend later. False when it may still be on its way (it did
   * not finish within cancelWaitMs, e.g. queued in a full PgBouncer pool).
   *
   * No statement timeout is set here: pg_cancel_backend() itself never waits; the waits that
   * can happen (connecting, a pooler's queue) are outside any statement, so a timer bounds them.
   */
  async function cancelBackend(pid: number, log: SinkContext['log']): Promise<boolean> {
    if (!connection) return true;
    const { options } = await connection;
    const canceller = new pg.Client(options as pg.ClientConfig);
    canceller.on('error', () => undefined);
    let sent = false;
    const attempt = (async (): Promise<boolean> => {
      await canceller.connect();
      sent = true;
      await canceller.query('SELECT pg_cancel_backend($1)', [pid]);
      return true;
    })().catch((error: unknown) => {
      // The rollback after the running statement ends has the same effect, only later.
      log.debug('could not cancel the running statement', { sink: config.name, message: redact(String(error), secrets) });
      // An answer from the server means the statement ran or was refused: nothing in flight.
      return !sent || error instanceof pg.DatabaseError;
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<boolean>((resolve) => {
      timer = setTimeout(() => resolve(false), deps.cancelWaitMs ?? CANCEL_WAIT_MS);
    });
    const settled = await Promise.race([attempt, deadline]);
    clearTimeout(timer);
    if (settled) {
      await canceller.end().catch(() => undefined);
    } else {
      log.warn('the running statement could not be cancelled in time; closing the connection instead, the server rolls back', { sink: config.name });
      canceller.connection.stream.destroy();
    }
    return settled;
  }

  type Run = <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;

  /**
   * The cluster's stored rows per shard: how many, and their fingerprint, from their checksums
   * summed in SQL as the store sums a shard's (src/store/fingerprint.ts: each checksum a 128-bit
   * number modulo 2^128). SQL has no 128-bit integer, so each checksum is read as two signed
   * 64-bit halves: the high half's sign drops out (weighted by 2^64, it is a multiple of 2^128),
   * the low half's does not, so its negative values are counted and 2^64 added for each. Two
   * casts a row instead of four 32-bit parts: a quarter less of the query's time (183 ms against
   * 246 ms for 200,000 rows on one core). One scan of the cluster's rows, about a tenth of what
   * staging and diffing them costs (measured at 100,000 rows: 0.12 s against 1.0 s). When a
   * stored checksum is not 32 hex digits (a row written by something else) the cast fails inside
   * a savepoint, which keeps the transaction usable, and only the counts are read: no fingerprint,
   * nothing skipped.
   */
  async function storedShards(run: Run, cluster: string): Promise<Map<string, { rows: number; fingerprint?: string }>> {
    const half = (from: number): string => `sum(('x' || substr(checksum, ${from}, 16))::bit(64)::bigint)::text`;
    const perNamespace = (sums: string): string => `SELECT namespace, count(*)::int AS rows${sums} FROM ${refs.items} WHERE cluster = $1 GROUP BY namespace`;
    await run('SAVEPOINT kollect_fingerprints');
    try {
      // A low half is negative when its first hex digit is 8 or above (compared byte-wise, whatever the column's collation).
      const result = await run<{ namespace: string; rows: number; high: string; low: string; low_negative: string }>(
        perNamespace(`, ${half(1)} AS high, ${half(17)} AS low, count(*) FILTER (WHERE substr(checksum, 17, 1) COLLATE "C" >= '8')::text AS low_negative`),
        [cluster],
      );
      await run('RELEASE SAVEPOINT kollect_fingerprints');
      return new Map(
        result.rows.map((r) => [shardKeyOf(r.namespace), { rows: r.rows, fingerprint: fingerprintOf(r.rows, ((BigInt(r.high) + BigInt(r.low_negative)) << 64n) + BigInt(r.low)) }]),
      );
    } catch (error) {
      if (pgErrorOf(error)?.code !== '22P02' && pgErrorOf(error)?.code !== '22026') throw error;
      await run('ROLLBACK TO SAVEPOINT kollect_fingerprints');
      const counts = await run<{ namespace: string; rows: number }>(perNamespace(''), [cluster]);
      return new Map(counts.rows.map((r) => [shardKeyOf(r.namespace), { rows: r.rows }]));
    }
  }

  /**
   * Merges the staging table into the items table: upserts the staged rows that are new or
   * changed, deletes the cluster's rows of completely listed types that were not staged (outside
   * the shards left out as unchanged). Returns per shard what was inserted and updated, and what
   * was deleted. `merge.heldBefore`: how many rows the cluster had in the table before.
   */
  async function mergeStaged(run: Run, store: CollectStore, merge: { staged: number; unchanged: readonly ShardEntry[]; heldBefore: number }) {
    const cluster = store.cluster;
    // The diff (staged rows that are new or whose checksum changed) is computed once and kept
    // narrow: the staged row's ctid, its namespace and whether it is new. The upsert fetches
    // those rows back by ctid (a TID scan: nothing when nothing changed), and the counts come
    // from the diff, because RETURNING cannot tell an insert from an update on a partitioned
    // table (xmax is a system column, refused there). The advisory lock keeps the diff true.
    // Its join needs no pinning: staging is the outer side, so a nested loop there probes the
    // primary key once per staged row, and stored rows estimated at a row or so get hashed
    // (test/sinks/postgres/plans.test.ts checks both statements' plans).
    const upsert = await run<{ namespace: string; inserted: string; updated: string }>(
      `WITH diff AS MATERIALIZED (
         SELECT s.ctid AS staged, s.namespace, cur.uid IS NULL AS new
           FROM ${STAGING} s
           LEFT JOIN ${refs.items} cur ON cur.cluster = $1 AND cur.namespace = s.namespace AND cur.name = s.name AND cur.uid = s.uid
          WHERE cur.uid IS NULL OR cur.checksum IS DISTINCT FROM s.checksum
       ), written AS (
         INSERT INTO ${refs.items} AS t (${ITEM_COLUMNS.join(', ')})
         SELECT $1, s.namespace, s.name, s.uid, s.api_group, s.api_version, s.kind, s.resource, s.labels, s.attributes, s.checksum, s.resource_version, s.created_at, $2::timestamptz, now()
           FROM ${STAGING} s
          WHERE s.ctid = ANY (ARRAY(SELECT staged FROM diff))
         ON CONFLICT (${KEY_COLUMNS.join(', ')}) DO UPDATE SET ${UPDATE_SET}
          WHERE t.checksum IS DISTINCT FROM EXCLUDED.checksum
       )
       SELECT namespace, count(*) FILTER (WHERE new) AS inserted, count(*) FILTER (WHERE NOT new) AS updated
         FROM diff GROUP BY namespace`,
      [cluster, store.manifest.collectedAt],
    );
    const written = new Map(upsert.rows.map((r) => [shardKeyOf(r.namespace), { inserted: Number(r.inserted), updated: Number(r.updated) }]));

    const deleted = new Map<string, number>();
    const types = completeTypes(store);
    // Every staged key is in the table now, and every row of the unchanged shards was there
    // already. When the cluster holds no more rows than those, none is absent from the store, and
    // the anti-join (every row of the cluster against staging: about as costly as the upsert's
    // join) is skipped. With no completely listed type nothing may be deleted, and nothing is counted.
    const held = merge.heldBefore + [...written.values()].reduce((n, w) => n + w.inserted, 0);
    const unchangedRows = merge.unchanged.reduce((n, shard) => n + shard.rows, 0);
    if (types.groups.length > 0 && held > merge.staged + unchangedRows) {
      // No nested loop for the anti-join, whatever the statistics say. A cluster's rows that
      // autovacuum has not analysed yet (a table loaded in this run, a cluster new to the table)
      // are estimated at a row or so; PostgreSQL 15 and older then loop over the staging table,
      // which has no index, once per stored row: 39 s instead of 0.55 s at 20,000 rows. A hash
      // anti-join is linear whatever the counts; ANALYZE of the shared table would cost more
      // than this export and still miss a cluster whose rows its sample did not hold.
      await run('SET LOCAL enable_nestloop = off');
      const gone = await run<{ namespace: string; deleted: string }>(
        `WITH gone AS (
           DELETE FROM ${refs.items} t
            WHERE t.cluster = $1
              AND (t.api_group, t.resource) IN (SELECT g, r FROM unnest($2::text[], $3::text[]) AS complete(g, r))
              AND t.namespace <> ALL ($4::text[])
              AND NOT EXISTS (SELECT 1 FROM ${STAGING} s WHERE s.namespace = t.namespace AND s.name = t.name AND s.uid = t.uid)
           RETURNING t.namespace
         )
         SELECT namespace, count(*) AS deleted FROM gone GROUP BY namespace`,
        [cluster, types.groups, types.resources, merge.unchanged.map((shard) => namespaceOfShard(shard.key))],
      );
      await run('SET LOCAL enable_nestloop TO DEFAULT');
      for (const r of gone.rows) deleted.set(shardKeyOf(r.namespace), Number(r.deleted));
    }
    return { written, deleted };
  }

  async function applyOnce(pool: pg.Pool, store: CollectStore, ctx: SinkContext, startedAt: Date, state: { connected: boolean }): Promise<ApplyCounts> {
    const cluster = store.cluster;
    const tx = await openTransaction(pool, ctx, 'export');
    const { client } = tx;
    state.connected = true;
    let committing = false;
    const run: Run = async <R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> => {
      if (ctx.signal.aborted) throw interrupted('export');
      const result = await client.query<R>(sql, params);
      if (ctx.signal.aborted) throw interrupted('export');
      return result;
    };
    try {
      await tx.begin('BEGIN');
      const lockKey = exportLockKey(names, cluster);
      const busy = (detail: string): LockBusyError =>
        new LockBusyError(`sink "${config.name}": another kollect run of cluster ${cluster} ${detail}`, { sink: config.name, cluster, table: refs.itemsLabel });
      if (config.onLocked === 'fail') {
        const got = await run<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1::bigint) AS locked', [lockKey]);
        if (!got.rows[0]?.locked) throw busy(`is exporting to table ${refs.itemsLabel}; retry later or set onLocked: wait`);
      } else {
        ctx.log.debug('waiting for the export lock', { sink: config.name, cluster });
        await run('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey]).catch((error: unknown) => {
          // The wait counts against statement_timeout (set with SET LOCAL by begin(), before the
          // lock); 57014 without an abort means it ran out.
          if (pgErrorOf(error)?.code === '57014' && !ctx.signal.aborted) {
            throw busy(`held the export lock of table ${refs.itemsLabel} for longer than statementTimeout (${config.statementTimeout} ms); look for a stuck run in pg_stat_activity (application_name kollect)`);
          }
          throw error;
        });
      }

      // Every row of the store is counted (copy-rows.ts: a second row of one key fails the export as
      // a damaged store); `sent` are those that go to the database.
      const staged = { perShard: new Map(store.shards.map((shard) => [shard.key, shard.rows])), total: store.manifest.totals.rows };
      let sent = staged.total;
      const replaced: ReplacedValues = { count: 0, first: [] };
      /** COPYs the store into `target` (a table and its column list), each line ending with `constants`. */
      const copyStore = async (target: string, constants: string[] = [], shards: readonly ShardEntry[] = store.shards): Promise<void> => {
        const copy = client.query(copyFrom(`COPY ${target} FROM STDIN`));
        const lines = new CopyLines();
        // pipeline() gives backpressure (the store is read as fast as the server takes it) and, on a
        // failing source or an abort, destroys the COPY stream, which sends CopyFail: the server
        // ends the COPY with an error and the transaction can only roll back.
        await pipeline(copyRowsSource(store, { constants, shards, lines, replaced }), copy, { signal: ctx.signal }).catch((error: unknown) => {
          throw damagedStoreError(store, lines, error) ?? error;
        });
        if (ctx.signal.aborted) throw interrupted('export');
      };
      const { first, now } = (
        await run<{ first: boolean; now: string }>(`SELECT NOT EXISTS (SELECT 1 FROM ${refs.items} WHERE cluster = $1) AS first, now()::text AS now`, [cluster])
      ).rows[0]!;
      let written: Map<string, { inserted: number; updated: number }>;
      let deleted = new Map<string, number>();
      if (first) {
        // The cluster's first export: nothing to diff against and nothing to delete, so the rows
        // go straight into the table (a plain COPY, no staging and no speculative insertion:
        // measured 0.4-0.5 s less per 100k rows). The lock keeps another run from racing it.
        await copyStore(`${refs.items} (${STAGING_COLUMN_LIST}, cluster, collected_at, exported_at)`, [cluster, store.manifest.collectedAt, now]);
        written = new Map([...staged.perShard].map(([shard, rows]) => [shard, { inserted: rows, updated: 0 }]));
      } else {
        // Shards whose rows the table holds already, exactly (equal fingerprints): nothing of
        // them to stage, write or delete. The others are staged and merged.
        const stored = await storedShards(run, cluster);
        const unchanged: ShardEntry[] = [];
        const changed: ShardEntry[] = [];
        for (const shard of store.shards) (stored.get(shard.key)?.fingerprint === shard.fingerprint ? unchanged : changed).push(shard);
        // A namespace of the cluster's stored rows that the store lacks may have rows to delete.
        const vanished = [...stored.keys()].some((key) => !store.shard(key));
        sent = changed.reduce((n, shard) => n + shard.rows, 0);
        ctx.log.debug('shards whose stored rows are unchanged are not staged', { sink: config.name, unchanged: unchanged.length, staged: changed.length });
        if (changed.length > 0 || vanished) {
          await run(`CREATE TEMP TABLE kollect_staging (${Object.entries(STAGING_COLUMNS).map(([c, type]) => `${c} ${type}`).join(', ')}) ON COMMIT DROP`);
          await copyStore(`${STAGING} (${STAGING_COLUMN_LIST})`, [], changed);
          const heldBefore = [...stored.values()].reduce((n, s) => n + s.rows, 0);
          ({ written, deleted } = await mergeStaged(run, store, { staged: sent, unchanged, heldBefore }));
        } else {
          written = new Map();
        }
      }
      const summary = summarise(staged.perShard, written, deleted);
      await run(
        `INSERT INTO ${refs.runs} (cluster, sink, started_at, finished_at, rows, inserted, updated, unchanged, deleted, status)
         VALUES ($1, $2, $3, clock_timestamp(), $4, $5, $6, $7, $8, 'succeeded')`,
        [cluster, config.name, startedAt, staged.total, summary.totals.added, summary.totals.changed, summary.totals.unchanged, summary.totals.removed],
      );
      committing = true;
      // Once COMMIT has succeeded the export is committed, even if SIGTERM arrived meanwhile.
      await tx.commit();
      return { rows: staged.total, staged: sent, ...summary, replaced };
    } catch (error) {
      await tx.rollback();
      const brokenBy = tx.broken();
      if (ctx.signal.aborted) throw interrupted('export');
      // A terminated backend sends its FATAL message before it closes: report that, not the
      // socket error (EPIPE) that a write racing the close may have raised here.
      const cause = pgErrorOf(brokenBy) ? brokenBy : error;
      const outcome =
        committing && brokenBy
          ? 'the connection broke during COMMIT, so the export may or may not be committed; the next run makes the table right either way'
          : 'the transaction was rolled back, nothing was written';
      throw toSinkError(cause, `export of cluster ${cluster} to ${refs.itemsLabel}`, outcome);
    } finally {
      tx.release();
    }
  }

  /** Records a failed run in its own short transaction; best effort: a failure to do so is logged, the export's error is what is reported. */
  async function recordFailure(pool: pg.Pool, cluster: string, startedAt: Date, error: KollectError, log: SinkContext['log']): Promise<void> {
    let client: pg.PoolClient | undefined;
    const onError = (): void => undefined;
    try {
      client = await pool.connect();
      client.on('error', onError);
      // A transaction of its own only for SET LOCAL: outside one, SET LOCAL does nothing, and a
      // session SET would stay behind on a server connection that PgBouncer hands to others.
      await client.query('BEGIN');
      await setLocalStatementTimeout(client, config);
      await client.query(
        `INSERT INTO ${refs.runs} (cluster, sink, started_at, finished_at, rows, inserted, updated, unchanged, deleted, status, error)
         VALUES ($1, $2, $3, clock_timestamp(), 0, 0, 0, 0, 0, 'failed', $4)`,
        [cluster, config.name, startedAt, redact(error.message, secrets).slice(0, 4000)],
      );
      await client.query('COMMIT');
      client.release();
    } catch (recordError) {
      client?.release(true);
      log.warn(`could not record the failed run in ${config.schema}.${config.runsTable}`, { sink: config.name, message: redact(String(recordError), secrets) });
    } finally {
      client?.off('error', onError);
    }
  }

  async function apply(store: CollectStore, ctx: SinkContext): Promise<PostgresSinkResult> {
    const began = Date.now();
    const startedAt = ctx.now();
    const pool = await openPool('export', ctx.signal);
    for (let attempt = 1; ; attempt++) {
      const state = { connected: false };
      try {
        const counts = await applyOnce(pool, store, ctx, startedAt, state);
        const result: PostgresSinkResult = {
          ...report({ sink: config.name, type: 'postgres', unit: 'rows', totals: counts.totals, shards: counts.shards }),
          staged: counts.staged,
          replaced: counts.replaced,
          durationMs: Date.now() - began,
        };
        ctx.log.info('postgres export committed', {
          sink: config.name,
          table: refs.itemsLabel,
          cluster: store.cluster,
          rows: counts.rows,
          staged: counts.staged,
          inserted: counts.totals.added,
          updated: counts.totals.changed,
          unchanged: counts.totals.unchanged,
          deleted: counts.totals.removed,
          durationMs: result.durationMs,
        });
        if (counts.replaced.count > 0) {
          ctx.log.warn('values held NUL (U+0000), which PostgreSQL text and jsonb cannot store: stored with U+FFFD in its place; the file and Git sinks keep them exact', {
            sink: config.name,
            table: refs.itemsLabel,
            cluster: store.cluster,
            replaced: counts.replaced.count,
            first: counts.replaced.first.map(describeReplacedValue),
          });
        }
        return result;
      } catch (error) {
        if (error instanceof InterruptedError || ctx.signal.aborted) throw error instanceof InterruptedError ? error : interrupted('export');
        const code = pgErrorOf(error)?.code;
        if (attempt === 1 && code && RETRYABLE.has(code)) {
          ctx.log.warn('export hit a serialization failure or deadlock; retrying once', { sink: config.name, sqlstate: code });
          continue;
        }
        const failure = toSinkError(error, `export of cluster ${store.cluster} to ${refs.itemsLabel}`);
        if (state.connected) await recordFailure(pool, store.cluster, startedAt, failure, ctx.log);
        throw failure;
      }
    }
  }

  /**
   * Read-only: a READ ONLY, REPEATABLE READ transaction streams this cluster's stored keys and
   * checksums with a server-side cursor, ordered by namespace, and compares them with the store
   * one shard at a time. Memory holds one shard of the store, never the table.
   */
  async function plan(store: CollectStore, ctx: SinkContext): Promise<PostgresSinkPlan> {
    const pool = await openPool('plan', ctx.signal);
    const cluster = store.cluster;
    const perShard = new Map<string, ChangeCounts>();
    const countsOf = (shard: string): ChangeCounts => {
      let c = perShard.get(shard);
      if (!c) {
        c = emptyCounts();
        perShard.set(shard, c);
      }
      return c;
    };
    /** A store shard's rows by key (first wins, like apply's de-duplication). */
    const loadShard = async (key: string): Promise<Map<string, string>> => {
      const rows = new Map<string, string>();
      if (!store.shard(key)) return rows;
      for await (const batch of store.readShardBatches(key)) {
        for (const row of batch) {
          const k = keyInShard(row);
          if (!rows.has(k)) rows.set(k, row.checksum);
        }
      }
      return rows;
    };
    const seenShards = new Set<string>();
    let current: { key: string; rows: Map<string, string> } | undefined;
    const finishShard = (): void => {
      if (current) countsOf(current.key).added += current.rows.size;
    };

    let tx: CancellableTransaction | undefined;
    try {
      tx = await openTransaction(pool, ctx, 'plan');
      const { client } = tx;
      try {
        await tx.begin('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
        // The cursor is WITHOUT HOLD: it lives and dies with this transaction, on the one server
        // connection that PgBouncer's transaction pooling pins for it.
        await client.query(
          `DECLARE kollect_plan NO SCROLL CURSOR FOR
             SELECT namespace, name, uid, checksum, api_group, resource FROM ${refs.items} WHERE cluster = $1 ORDER BY namespace`,
          [cluster],
        );
        for (;;) {
          if (ctx.signal.aborted) throw interrupted('plan');
          const batch = await client.query<{ namespace: string; name: string; uid: string; checksum: string; api_group: string; resource: string }>(
            `FETCH ${FETCH_ROWS} FROM kollect_plan`,
          );
          for (const stored of batch.rows) {
            const key = shardKeyOf(stored.namespace);
            if (current?.key !== key) {
              finishShard();
              seenShards.add(key);
              current = { key, rows: await loadShard(key) };
            }
            const checksum = current.rows.get(keyInShard(stored));
            if (checksum !== undefined) {
              if (checksum === stored.checksum) countsOf(key).unchanged++;
              else countsOf(key).changed++;
              current.rows.delete(keyInShard(stored));
            } else if (store.isComplete({ apiGroup: stored.api_group, resource: stored.resource })) {
              countsOf(key).removed++;
            }
          }
          if (batch.rows.length < FETCH_ROWS) break;
        }
        finishShard();
        current = undefined;
        await tx.commit();
      } catch (error) {
        await tx.rollback();
        throw error;
      }
      for (const shard of store.shards) {
        if (seenShards.has(shard.key)) continue;
        if (ctx.signal.aborted) throw interrupted('plan');
        countsOf(shard.key).added += (await loadShard(shard.key)).size;
      }
    } catch (error) {
      if (ctx.signal.aborted) throw interrupted('plan');
      throw toSinkError(error, `plan of cluster ${cluster} against ${refs.itemsLabel}`);
    } finally {
      tx?.release();
    }
    for (const shard of store.shards) countsOf(shard.key);
    // Like apply(): every shard of the store, plus shards of the table with something to delete.
    const { totals, shards } = shardChanges([...perShard].filter(([shard, c]) => store.shard(shard) !== undefined || c.added + c.changed + c.removed + c.unchanged > 0));
    return report({ sink: config.name, type: 'postgres', unit: 'rows', totals, shards });
  }

  return {
    name: config.name,
    type: 'postgres',
    plan,
    apply,
    async close() {
      const current = connection;
      connection = undefined;
      if (!current) return;
      const { pool } = await current.catch(() => ({ pool: undefined }));
      await pool?.end();
    },
  };
}

/**
 * `kollect db init` for one sink: creates (idempotently, additively) the items table, the runs
 * table and the schema-version table, optionally the BRIN index on exported_at.
 */
export async function initDatabase(config: PostgresSinkConfig, options: { brin?: boolean } = {}, deps: PostgresSinkDeps = {}): Promise<InitResult> {
  const { options: poolOptions, secrets } = await poolConfig(config, deps);
  const client = new pg.Client(poolOptions as pg.ClientConfig);
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await initSchema(client, { schema: config.schema, table: config.table, runsTable: config.runsTable }, { ...options, statementTimeoutMs: config.statementTimeout });
  } catch (error) {
    throw sinkError(config, secrets, error, `db init of ${config.schema}.${config.table}`, 'nothing was changed');
  } finally {
    await client.end().catch(() => undefined);
  }
}
