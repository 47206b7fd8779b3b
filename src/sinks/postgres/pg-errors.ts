import pg from 'pg';
import type { PostgresSinkConfig } from './config.js';
import { InterruptedError, KollectError, SinkError, StoreError } from '../../errors.js';
import { redact } from '../../redact.js';
import type { CollectStore } from '../../store/collect-store.js';
import type { CopyLines } from './copy-rows.js';

/** What the sink's failures become: its typed errors, with PostgreSQL's word on them and never a secret. */

export interface PgError extends Error {
  code?: string;
  /** Where the statement was: for a COPY, `COPY <table>, line <n>, column <name>: ...`. */
  where?: string;
  /** The table and schema an error is about, where the server names them (a constraint, a partition). */
  table?: string;
  schema?: string;
}

/** The pg error in an error's cause chain, if any. */
export function pgErrorOf(error: unknown): PgError | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth++) {
    if (current instanceof pg.DatabaseError) return current as PgError;
    current = (current as { cause?: unknown }).cause;
  }
  return undefined;
}

/** Socket errors of a connection that broke under a running statement. */
const CONNECTION_LOST = new Set(['EPIPE', 'ECONNRESET']);

/**
 * Turns any failure into a typed error with the PG message, code and a hint where one helps,
 * never a secret. `outcome` says what became of the transaction.
 */
export function sinkError(config: PostgresSinkConfig, secrets: readonly string[], error: unknown, action: string, outcome?: string): KollectError {
  if (error instanceof KollectError) return error;
  const table = `${config.schema}.${config.table}`;
  const pgError = pgErrorOf(error);
  const base = redact(error instanceof Error ? error.message : String(error), secrets);
  const tail = outcome ? `; ${outcome}` : '';
  if (pgError) {
    const changes = config.history ? ` and ${config.schema}.${config.history.table}` : '';
    const hint =
      pgError.code === '42P01' || pgError.code === '3F000' || pgError.code === '42703'
        ? `; run "kollect db init" to create or upgrade ${table}, ${config.schema}.${config.runsTable}${changes}`
        : pgError.code === '57014'
          ? ` (statementTimeout is ${config.statementTimeout} ms)`
          : '';
    return new SinkError(
      config.name,
      `${action} failed: ${base} (SQLSTATE ${pgError.code ?? 'unknown'})${hint}${tail}`,
      { table, sqlstate: pgError.code },
      { cause: error },
    );
  }
  const lost = CONNECTION_LOST.has((error as NodeJS.ErrnoException).code ?? '') || base.startsWith('Connection terminated');
  return new SinkError(config.name, `${action} failed: ${lost ? `the connection to the database broke (${base})` : base}${tail}`, { table }, { cause: error });
}

/** The error of a plan or an export stopped by an abort (SIGTERM). */
export function interruptedError(sink: string, action: string): InterruptedError {
  return new InterruptedError(`sink "${sink}": ${action} interrupted; the transaction was rolled back, nothing was written`, { sink });
}

/**
 * What the server says of a COPY line that no spool line kollect writes can be: a line with a
 * field too many or too few (22P04), or labels or attributes that are not JSON (22P02; every
 * other staged column is text, or a timestamp, whose 22007 can come from what a cluster sent).
 */
const DAMAGED_LINE = new Set(['22P04', '22P02']);

/** A COPY the server refused for a line the store cannot have been written with, as STORE_INVALID naming its shard; undefined for any other failure. */
export function damagedStoreError(store: CollectStore, lines: CopyLines, error: unknown): StoreError | undefined {
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
