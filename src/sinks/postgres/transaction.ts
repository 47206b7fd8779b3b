import pg from 'pg';
import type { PostgresSinkConfig } from './config.js';
import { redact } from '../../redact.js';
import type { SinkContext } from '../sink.js';
import { SET_LOCAL_STATEMENT_TIMEOUT, statementTimeoutParam } from './connection.js';
import { interruptedError } from './pg-errors.js';

/**
 * How long the cancel of a running statement (on SIGTERM) may take, connecting included, before
 * kollect closes the export's connection instead. Well inside a pod's default 30 s grace period.
 */
export const CANCEL_WAIT_MS = 10_000;

/** Runs one statement of a transaction. */
export type Run = <R extends pg.QueryResultRow>(sql: string, params?: unknown[]) => Promise<pg.QueryResult<R>>;

/** A transaction that an abort can cancel (see openTransaction). */
export interface CancellableTransaction {
  /** The checked-out client; run the transaction's statements on it. */
  client: pg.PoolClient;
  /** Runs one statement on the client; refuses (InterruptedError) when the run is aborted before it is sent or by the time it returns. */
  run: Run;
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

/** What a transaction needs beside its pool. */
export interface TransactionOptions {
  /** The sink: its name for logs and errors, its statement timeout. */
  config: Pick<PostgresSinkConfig, 'name' | 'statementTimeout'>;
  /** The options the pool was made with: a cancel opens one more connection with them. */
  connection: pg.PoolConfig;
  /** What log lines must never show: the URL, the password. */
  secrets: readonly string[];
  /** How long an abort waits for its cancel to run before it closes the connection instead (default CANCEL_WAIT_MS). */
  cancelWaitMs?: number;
  /** What an InterruptedError says was stopped. */
  action: 'export' | 'plan';
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
export async function openTransaction(pool: pg.Pool, options: TransactionOptions, ctx: Pick<SinkContext, 'signal' | 'log'>): Promise<CancellableTransaction> {
  const { config, action } = options;
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
    cancelling = cancelBackend(pid, options, ctx.log);
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
    async run<R extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<pg.QueryResult<R>> {
      if (ctx.signal.aborted) throw interruptedError(config.name, action);
      const result = await client.query<R>(sql, params);
      if (ctx.signal.aborted) throw interruptedError(config.name, action);
      return result;
    },
    async begin(sql) {
      await client.query(sql);
      open = true;
      const begun = await client.query<{ pid: number }>(`SELECT pg_backend_pid() AS pid, ${SET_LOCAL_STATEMENT_TIMEOUT} AS statement_timeout`, [
        statementTimeoutParam(config),
      ]);
      pid = begun.rows[0]?.pid ?? 0;
      if (ctx.signal.aborted) throw interruptedError(config.name, action);
    },
    async commit() {
      if (ctx.signal.aborted) throw interruptedError(config.name, action);
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
async function cancelBackend(pid: number, options: TransactionOptions, log: SinkContext['log']): Promise<boolean> {
  const canceller = new pg.Client(options.connection as pg.ClientConfig);
  canceller.on('error', () => undefined);
  let sent = false;
  const attempt = (async (): Promise<boolean> => {
    await canceller.connect();
    sent = true;
    await canceller.query('SELECT pg_cancel_backend($1)', [pid]);
    return true;
  })().catch((error: unknown) => {
    // The rollback after the running statement ends has the same effect, only later.
    log.debug('could not cancel the running statement', { sink: options.config.name, message: redact(String(error), options.secrets) });
    // An answer from the server means the statement ran or was refused: nothing in flight.
    return !sent || error instanceof pg.DatabaseError;
  });
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), options.cancelWaitMs ?? CANCEL_WAIT_MS);
  });
  const settled = await Promise.race([attempt, deadline]);
  clearTimeout(timer);
  if (settled) {
    await canceller.end().catch(() => undefined);
  } else {
    log.warn('the running statement could not be cancelled in time; closing the connection instead, the server rolls back', { sink: options.config.name });
    canceller.connection.stream.destroy();
  }
  return settled;
}
