import pg from 'pg';
import type { PostgresSinkConfig } from './config.js';
import type { KollectError } from '../../errors.js';
import type { SinkContext } from '../sink.js';
import { poolConfig, type ConnectionDeps } from './connection.js';
import { interruptedError, sinkError } from './pg-errors.js';
import { openTransaction, type CancellableTransaction } from './transaction.js';

/** What the pool takes from outside, so tests use a real server with their own pool or env. */
export interface PoolDeps extends ConnectionDeps {
  /** Creates the connection pool (default `new pg.Pool(options)`). */
  createPool?: (options: pg.PoolConfig) => pg.Pool;
  /** How long an abort waits for its cancel to run before it closes the connection instead (default CANCEL_WAIT_MS). */
  cancelWaitMs?: number;
}

/** The pool and the options it was made with (a cancel opens one more connection with them). */
interface Connection {
  pool: pg.Pool;
  options: pg.PoolConfig;
}

/**
 * A sink's connection pool, made at its first use and kept for the run, and the transactions
 * it hands out. It knows the secrets of the connection, so the sink's errors come from here.
 */
export class SinkPool {
  #connection: Promise<Connection> | undefined;
  /** What error messages must never show: the URL, the password (known once the pool is made). */
  #secrets: string[] = [];

  constructor(
    readonly config: PostgresSinkConfig,
    private readonly deps: PoolDeps = {},
  ) {}

  #connect(): Promise<Connection> {
    this.#connection ??= poolConfig(this.config, this.deps).then(({ options, secrets }) => {
      this.#secrets = secrets;
      const pool = (this.deps.createPool ?? ((o: pg.PoolConfig) => new pg.Pool(o)))(options);
      // An idle client losing its connection must not crash the process; the next checkout reconnects.
      pool.on('error', () => undefined);
      return { pool, options };
    });
    this.#connection.catch(() => {
      this.#connection = undefined;
    });
    return this.#connection;
  }

  /** The pool for an export or a plan: none once the run is aborted; failing to make it is the sink's error. */
  async open(action: 'export' | 'plan', signal: AbortSignal): Promise<pg.Pool> {
    if (signal.aborted) throw interruptedError(this.config.name, action);
    try {
      return (await this.#connect()).pool;
    } catch (error) {
      throw this.sinkError(error, 'connecting');
    }
  }

  /** A transaction on a client of the pool that an abort cancels (see openTransaction). */
  async transaction(ctx: Pick<SinkContext, 'signal' | 'log'>, action: 'export' | 'plan'): Promise<CancellableTransaction> {
    const { pool, options } = await this.#connect();
    return openTransaction(pool, { config: this.config, connection: options, secrets: this.#secrets, cancelWaitMs: this.deps.cancelWaitMs, action }, ctx);
  }

  /** What messages must never show: the URL, the password (none before the pool is made). */
  get secrets(): readonly string[] {
    return this.#secrets;
  }

  /** Any failure as the sink's typed error (see sinkError), without this connection's secrets. */
  sinkError(error: unknown, action: string, outcome?: string): KollectError {
    return sinkError(this.config, this.#secrets, error, action, outcome);
  }

  /** Ends the pool, if one was made. */
  async close(): Promise<void> {
    const current = this.#connection;
    this.#connection = undefined;
    if (!current) return;
    const { pool } = await current.catch(() => ({ pool: undefined }));
    await pool?.end();
  }
}
