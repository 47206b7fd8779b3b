import pg from 'pg';
import type { PostgresSinkConfig } from './config.js';
import { poolConfig, type ConnectionDeps } from './connection.js';
import { initSchema, type InitResult } from './init-schema.js';
import { sinkError } from './pg-errors.js';
import { tableNames } from './schema.js';

/**
 * Runs `work` on a connection of its own to the sink's database (the `db` commands); any failure
 * becomes the sink's typed error, saying what `action` was and that `outcome` holds.
 */
export async function withSinkClient<T>(
  config: PostgresSinkConfig,
  deps: ConnectionDeps,
  action: string,
  outcome: string,
  work: (client: pg.Client) => Promise<T>,
): Promise<T> {
  const { options, secrets } = await poolConfig(config, deps);
  const client = new pg.Client(options as pg.ClientConfig);
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await work(client);
  } catch (error) {
    throw sinkError(config, secrets, error, action, outcome);
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * `kollect db init` for one sink: creates (idempotently, additively) the items table, the runs
 * table, the changes table when the sink records history, and the schema-version table,
 * optionally the BRIN index on exported_at.
 */
export async function initDatabase(config: PostgresSinkConfig, options: { brin?: boolean } = {}, deps: ConnectionDeps = {}): Promise<InitResult> {
  return withSinkClient(config, deps, `db init of ${config.schema}.${config.table}`, 'nothing was changed', (client) =>
    initSchema(client, tableNames(config), { ...options, statementTimeoutMs: config.statementTimeout }),
  );
}
