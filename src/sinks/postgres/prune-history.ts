import type { PostgresSinkConfig } from '../../config/schema.js';
import { UsageError } from '../../errors.js';
import { setLocalStatementTimeout, type ConnectionDeps } from './connection.js';
import { withSinkClient } from './init-database.js';
import { qualified } from './sql-names.js';

/** What `kollect db prune-history` did. */
export interface PruneResult {
  /** `schema.table` of the changes table. */
  table: string;
  /** Rows changed before this time were deleted. */
  cutoff: string;
  deleted: number;
  /** Transactions it took (the last one finds fewer rows than a batch, or none). */
  batches: number;
}

export interface PruneOptions {
  /** Delete the changes older than this many milliseconds. */
  olderThanMs: number;
  /** Rows per transaction. */
  batchSize: number;
}

/**
 * `kollect db prune-history`: deletes the rows of an unpartitioned changes table older than a
 * cutoff, in batches of their own transaction each, so that no transaction holds many row locks
 * or much WAL, and exports (which insert, never touch old rows) go on meanwhile. A partitioned
 * table is refused: dropping a month's partition costs nothing where deleting its rows costs a
 * full rewrite and vacuum.
 */
export async function pruneHistory(config: PostgresSinkConfig, options: PruneOptions, deps: ConnectionDeps = {}): Promise<PruneResult> {
  if (!config.history)
    throw new UsageError(`sink "${config.name}" does not record history (history: false): there is no changes table to prune`, { sink: config.name });
  const table = config.history.table;
  const label = `${config.schema}.${table}`;
  const changes = qualified(config.schema, table);
  return withSinkClient(config, deps, `db prune-history of ${label}`, 'the batches committed before this one stay deleted', async (client) => {
    const found = await client.query<{ relkind: string; cutoff: Date }>(
      `SELECT c.relkind, now() - make_interval(secs => $3) AS cutoff
         FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2`,
      [config.schema, table, options.olderThanMs / 1000],
    );
    const relation = found.rows[0];
    if (!relation) throw new UsageError(`the changes table ${label} does not exist; run "kollect db init" with history on`, { table: label });
    if (relation.relkind === 'p') {
      throw new UsageError(
        `the changes table ${label} is partitioned by month: prune-history deletes row by row, which a partitioned table never needs. ` +
          `Detach and drop the old months instead: ALTER TABLE ${changes} DETACH PARTITION <month>; DROP TABLE <month>; (docs/postgres.md, "Retention")`,
        { table: label },
      );
    }
    const result: PruneResult = { table: label, cutoff: relation.cutoff.toISOString(), deleted: 0, batches: 0 };
    for (;;) {
      await client.query('BEGIN');
      await setLocalStatementTimeout(client, config);
      // A bounded set of old rows by ctid (the BRIN on changed_at finds them), deleted by TID scan.
      const batch = await client.query(`DELETE FROM ${changes} WHERE ctid = ANY (ARRAY(SELECT ctid FROM ${changes} WHERE changed_at < $1 LIMIT $2))`, [
        relation.cutoff,
        options.batchSize,
      ]);
      await client.query('COMMIT');
      result.batches++;
      result.deleted += batch.rowCount ?? 0;
      if ((batch.rowCount ?? 0) < options.batchSize) return result;
    }
  });
}
