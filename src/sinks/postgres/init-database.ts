import type { PostgresSinkConfig } from '../../config/schema.js';
import type { ConnectionDeps } from './connection.js';
import { initSchema, type InitResult } from './schema.js';
import { withSinkClient } from './sink-client.js';

/**
 * `kollect db init` for one sink: creates (idempotently, additively) the items table, the runs
 * table and the schema-version table, optionally the BRIN index on exported_at.
 */
export async function initDatabase(config: PostgresSinkConfig, options: { brin?: boolean } = {}, deps: ConnectionDeps = {}): Promise<InitResult> {
  return withSinkClient(
    config,
    { action: `db init of ${config.schema}.${config.table}`, outcome: 'nothing was changed' },
    (client) =>
      initSchema(
        client,
        { schema: config.schema, table: config.table, runsTable: config.runsTable },
        { ...options, statementTimeoutMs: config.statementTimeout },
      ),
    deps,
  );
}
