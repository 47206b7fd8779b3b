import pg from 'pg';
import type { PostgresSinkConfig } from './config.js';
import { poolConfig, type ConnectionDeps } from './connection.js';
import { sinkError } from './pg-errors.js';
import { initSchema, type InitResult } from './schema.js';

/**
 * `kollect db init` for one sink: creates (idempotently, additively) the items table, the runs
 * table and the schema-version table, optionally the BRIN index on exported_at.
 */
export async function initDatabase(config: PostgresSinkConfig, options: { brin?: boolean } = {}, deps: ConnectionDeps = {}): Promise<InitResult> {
  const { options: poolOptions, secrets } = await poolConfig(config, deps);
  const client = new pg.Client(poolOptions as pg.ClientConfig);
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await initSchema(
      client,
      { schema: config.schema, table: config.table, runsTable: config.runsTable },
      { ...options, statementTimeoutMs: config.statementTimeout },
    );
  } catch (error) {
    throw sinkError(config, secrets, error, `db init of ${config.schema}.${config.table}`, 'nothing was changed');
  } finally {
    await client.end().catch(() => undefined);
  }
}
