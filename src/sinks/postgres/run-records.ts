import type pg from 'pg';
import type { PostgresSinkConfig } from './config.js';
import type { KollectError } from '../../errors.js';
import { redact } from '../../redact.js';
import type { ChangeCounts, SinkContext } from '../sink.js';
import { setLocalStatementTimeout } from './connection.js';
import type { HistoryPlan } from './history.js';
import type { Run } from './transaction.js';

/** The runs table: one row per export, succeeded (in the export's transaction) or failed (after it). */

/** The export a runs row records. */
export interface ExportRun {
  /** The runs table, quoted and schema-qualified. */
  runs: string;
  cluster: string;
  /** When the export started (before its first attempt). */
  startedAt: Date;
}

/**
 * Records the export as succeeded, in the export's transaction: the row commits with the export
 * or not at all. With history, under the id its changes rows name, marked when it is the
 * cluster's baseline; without, in the columns an installation without history has.
 */
export async function recordSucceededRun(
  run: Run,
  config: Pick<PostgresSinkConfig, 'name'>,
  exportRun: ExportRun,
  rows: number,
  totals: ChangeCounts,
  history?: HistoryPlan,
): Promise<void> {
  // Only with history are the columns named that an installation without it may lack.
  const [columns, values, params] = history ? ['id, baseline, ', '$9, $10, ', [history.runId, history.baseline]] : ['', '', []];
  await run(
    `INSERT INTO ${exportRun.runs} (${columns}cluster, sink, started_at, finished_at, rows, inserted, updated, unchanged, deleted, status)
     VALUES (${values}$1, $2, $3, clock_timestamp(), $4, $5, $6, $7, $8, 'succeeded')`,
    [exportRun.cluster, config.name, exportRun.startedAt, rows, totals.added, totals.changed, totals.unchanged, totals.removed, ...params],
  );
}

/** Records a failed run in its own short transaction; best effort: a failure to do so is logged, the export's error is what is reported. */
export async function recordFailedRun(
  pool: pg.Pool,
  config: PostgresSinkConfig,
  secrets: readonly string[],
  exportRun: ExportRun,
  error: KollectError,
  log: SinkContext['log'],
): Promise<void> {
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
      `INSERT INTO ${exportRun.runs} (cluster, sink, started_at, finished_at, rows, inserted, updated, unchanged, deleted, status, error)
       VALUES ($1, $2, $3, clock_timestamp(), 0, 0, 0, 0, 0, 'failed', $4)`,
      [exportRun.cluster, config.name, exportRun.startedAt, redact(error.message, secrets).slice(0, 4000)],
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
