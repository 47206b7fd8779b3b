import type { PostgresSinkConfig } from '../../config/schema.js';
import { SinkError } from '../../errors.js';
import type { PgError } from './pg-errors.js';
import { monthPartitionSql, tableNames, type TableRefs } from './schema.js';
import type { Run } from './transaction.js';

/**
 * The changes table an export writes with `history` on: one row per insert, update and delete,
 * in the export's transaction, taken from the merge's own diff (merge.ts), so that an unchanged
 * export writes none and reads nothing more.
 */

/** Where and under which run an export records its changes. */
export interface HistoryRecording {
  /** The changes table, quoted and schema-qualified. */
  changes: string;
  /** The run's id in the runs table, taken before the run's row is written. */
  runId: string;
}

/** The changes table's columns, in the order the statements below fill them. */
export const CHANGE_COLUMNS =
  'cluster, namespace, name, uid, api_group, api_version, kind, resource, operation, changed_at, run_id, ' +
  'checksum_before, checksum_after, labels_before, labels_after, attributes_before, attributes_after, created_at_before';

/** What an export with history does about it. */
export interface HistoryPlan {
  runId: string;
  /** The cluster's history starts with this run: no baseline run of it is recorded yet. */
  baseline: boolean;
}

/**
 * Takes the run's id now (the changes rows name it, and the runs row is written last, with the
 * counts), and finds whether the cluster's history starts here: no baseline run of it yet.
 */
export async function planHistory(run: Run, refs: TableRefs, cluster: string): Promise<HistoryPlan> {
  const result = await run<{ run_id: string; baseline: boolean }>(
    `SELECT nextval(pg_get_serial_sequence($1, 'id'))::text AS run_id, NOT EXISTS (SELECT 1 FROM ${refs.runs} WHERE cluster = $2 AND baseline) AS baseline`,
    [refs.runs, cluster],
  );
  const row = result.rows[0]!;
  return { runId: row.run_id, baseline: row.baseline };
}

/** A baseline of rows (`baseline: rows`): one insert row per object the cluster has now. */
export async function recordSnapshot(run: Run, refs: TableRefs, recording: HistoryRecording, cluster: string): Promise<void> {
  await run(
    `INSERT INTO ${recording.changes} (${CHANGE_COLUMNS})
     SELECT cluster, namespace, name, uid, api_group, api_version, kind, resource, 'insert', now(), $2, NULL, checksum, NULL, labels, NULL, attributes, NULL
       FROM ${refs.items} WHERE cluster = $1`,
    [cluster, recording.runId],
  );
}

/**
 * The changes table of a sink is partitioned by month and has no partition (nor a default one)
 * for the export's time: the failure as a typed error that prints the statement to run. Undefined
 * for any other failure.
 */
export function missingPartitionError(
  config: PostgresSinkConfig,
  cluster: string,
  pgError: PgError | undefined,
  exportTime: string | undefined,
): SinkError | undefined {
  const history = config.history;
  if (!history || pgError?.code !== '23514' || pgError.table !== history.table || pgError.schema !== config.schema || exportTime === undefined)
    return undefined;
  const at = new Date(exportTime);
  const month = { year: at.getUTCFullYear(), month: at.getUTCMonth() + 1 };
  const statement = `${monthPartitionSql(tableNames(config), month)};`;
  return new SinkError(
    config.name,
    `export of cluster ${cluster}: the changes table ${config.schema}.${history.table} has no partition for ${at.toISOString().slice(0, 7)} (kollect never creates partitions); ` +
      `the transaction was rolled back, nothing was written. Create it (and the months ahead) as the table's owner:\n  ${statement}`,
    { table: `${config.schema}.${history.table}`, month: at.toISOString().slice(0, 7), statement, sqlstate: pgError.code },
    { code: 'HISTORY_PARTITION_MISSING', cause: pgError },
  );
}
