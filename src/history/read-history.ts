import type pg from 'pg';
import type { PostgresSinkConfig } from '../config/schema.js';
import { HistoryUnavailableError } from '../errors.js';
import { setLocalStatementTimeout, type ConnectionDeps } from '../sinks/postgres/connection.js';
import { withSinkClient } from '../sinks/postgres/init-database.js';
import { qualified } from '../sinks/postgres/sql-names.js';
import {
  historyStart,
  queryChanges,
  queryNamespaceAsOf,
  type AsOfQuery,
  type ChangeFilter,
  type ChangeRecord,
  type HistoryTables,
  type ObjectAsOf,
} from './changes-query.js';

/** Where `kollect changes` reads: a postgres sink (from the config file, or made from DATABASE_URL) and its changes table. */
export interface HistorySource {
  sink: PostgresSinkConfig;
  /** The changes table, in the sink's schema. */
  changesTable: string;
}

/** What `kollect changes` lists. */
export interface ChangesResult {
  table: string;
  since: string;
  until: string | null;
  limit: number;
  /** True when more changes matched than `limit`: the newest `limit` are in `changes`. */
  truncated: boolean;
  changes: ChangeRecord[];
}

/** What `kollect changes --as-of` prints. */
export interface AsOfResult {
  cluster: string;
  namespace: string;
  asOf: string;
  /** When the cluster's history starts (its baseline). */
  historyFrom: string;
  limit: number;
  truncated: boolean;
  objects: ObjectAsOf[];
}

function tablesOf(source: HistorySource): HistoryTables {
  return { schema: source.sink.schema, items: source.sink.table, runs: source.sink.runsTable, changes: source.changesTable };
}

/**
 * Runs `work` in a read-only transaction under the sink's statement timeout, once the changes
 * table is known to exist. SET LOCAL and READ ONLY last for the transaction only, so this works
 * through PgBouncer in transaction mode too.
 */
async function readHistory<T>(source: HistorySource, work: (client: pg.Client, tables: HistoryTables) => Promise<T>, deps: ConnectionDeps): Promise<T> {
  const tables = tablesOf(source);
  const label = `${tables.schema}.${tables.changes}`;
  return withSinkClient(source.sink, deps, `reading history from ${label}`, 'the database was only read', async (client) => {
    await client.query('BEGIN READ ONLY');
    try {
      await setLocalStatementTimeout(client, source.sink);
      const found = await client.query<{ exists: boolean }>('SELECT to_regclass($1) IS NOT NULL AS exists', [qualified(tables.schema, tables.changes)]);
      if (!found.rows[0]?.exists) {
        throw new HistoryUnavailableError(
          `no history table ${label}: history was never enabled for sink "${source.sink.name}". Set "history: true" on the postgres sink, ` +
            'run "kollect db init" to create the table, and every export from then on records its changes.',
          { reason: 'not-enabled', table: label, sink: source.sink.name },
        );
      }
      return await work(client, tables);
    } finally {
      await client.query('ROLLBACK').catch(() => undefined);
    }
  });
}

/** The changes that match `filter`, newest first. */
export function listChanges(source: HistorySource, filter: ChangeFilter, deps: ConnectionDeps = {}): Promise<ChangesResult> {
  return readHistory(
    source,
    async (client, tables) => {
      const { items, truncated } = await queryChanges(client, tables, filter);
      return {
        table: `${tables.schema}.${tables.changes}`,
        since: filter.since.toISOString(),
        until: filter.until?.toISOString() ?? null,
        limit: filter.limit,
        truncated,
        changes: items,
      };
    },
    deps,
  );
}

/**
 * The namespace as it was at `query.asOf`. Refuses (HISTORY_UNAVAILABLE, reason `too-early`) a
 * time before the cluster's history starts: what changed before its baseline is unknown.
 */
export function namespaceAsOf(source: HistorySource, query: AsOfQuery, deps: ConnectionDeps = {}): Promise<AsOfResult> {
  return readHistory(
    source,
    async (client, tables) => {
      const start = await historyStart(client, tables, query.cluster);
      if (start === null || start > query.asOf) {
        const label = `${tables.schema}.${tables.changes}`;
        const reach = start === null ? `no history was ever recorded for cluster ${query.cluster}` : `its history starts at ${start.toISOString()}`;
        throw new HistoryUnavailableError(
          `cannot rebuild namespace ${JSON.stringify(query.namespace)} of cluster ${query.cluster} as of ${query.asOf.toISOString()}: ${reach} (${label}); ask for a later time`,
          { reason: 'too-early', table: label, cluster: query.cluster, asOf: query.asOf.toISOString(), historyFrom: start?.toISOString() ?? null },
        );
      }
      const { items, truncated } = await queryNamespaceAsOf(client, tables, query);
      return {
        cluster: query.cluster,
        namespace: query.namespace,
        asOf: query.asOf.toISOString(),
        historyFrom: start.toISOString(),
        limit: query.limit,
        truncated,
        objects: items,
      };
    },
    deps,
  );
}
