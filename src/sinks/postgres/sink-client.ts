import pg from 'pg';
import type { PostgresSinkConfig } from '../../config/schema.js';
import { poolConfig, type ConnectionDeps } from './connection.js';
import { sinkError } from './pg-errors.js';

/**
 * Runs `work` on one connection of a sink, outside an export (`db init`, `kollect changes`): the
 * sink's URL, TLS and session name, and its errors as the sink's typed ones without a secret.
 * `action` and `outcome` word the error (`db init of public.kollect_items failed: ...; nothing was changed`).
 */
export async function withSinkClient<T>(
  config: PostgresSinkConfig,
  wording: { action: string; outcome?: string },
  work: (client: pg.Client) => Promise<T>,
  deps: ConnectionDeps = {},
): Promise<T> {
  const { options, secrets } = await poolConfig(config, deps);
  const client = new pg.Client(options as pg.ClientConfig);
  client.on('error', () => undefined);
  try {
    await client.connect();
    return await work(client);
  } catch (error) {
    throw sinkError(config, secrets, error, wording.action, wording.outcome);
  } finally {
    await client.end().catch(() => undefined);
  }
}
