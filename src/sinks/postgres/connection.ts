import type { ConnectionOptions } from 'node:tls';
import type pg from 'pg';
import type { PostgresSinkConfig } from './config.js';
import type { SecretRef } from '../../config/fields.js';
import { readRequiredSecret, type SecretDeps } from '../../config/secret.js';
import { SinkError } from '../../errors.js';
import { readCaFile } from '../ca-file.js';
import { urlSecrets } from '../../redact.js';

/** What the connection code reads from the outside world (secrets, the CA file); tests pass their own. */
export type ConnectionDeps = SecretDeps;

/** The application_name every kollect session carries (visible in pg_stat_activity). */
export const APPLICATION_NAME = 'kollect';

/** The connection URL from its secret reference (an environment variable or a mounted file), trimmed. Never logged. */
function connectionUrl(sink: string, ref: SecretRef, deps: ConnectionDeps): Promise<string> {
  const secret = 'env' in ref ? `env:${ref.env}` : `file:${ref.file}`;
  return readRequiredSecret(ref, deps, (problem, cause) => new SinkError(sink, `connection URL: ${problem}`, { secret }, { code: 'SINK_CONFIG', cause }));
}

/** URL query parameters that configure TLS; removed when the config's `ssl` decides instead. */
const SSL_PARAMS = ['ssl', 'sslmode', 'sslcert', 'sslkey', 'sslrootcert', 'sslpassword', 'uselibpqcompat'];
/**
 * URL query parameters kollect always sets itself: the session name DBAs look for, and the
 * config's timeout. A `statement_timeout` in the URL would also become a startup parameter,
 * which PgBouncer refuses ("unsupported startup parameter") unless it is listed in its
 * `ignore_startup_parameters`.
 */
const OWN_PARAMS = ['application_name', 'statement_timeout'];
/** Connection parameters that carry a credential (libpq's `password` and `sslpassword`). */
const LIBPQ_SECRETS = new Set(['password', 'sslpassword']);

/**
 * The SQL expression that gives the current transaction the config's `statementTimeout` (0:
 * none), with the timeout in milliseconds as bind parameter `$1` (statementTimeoutParam).
 * `set_config(name, value, true)` is `SET LOCAL` with a bind parameter: it lasts until the
 * transaction ends, so it works through PgBouncer in transaction pooling mode, where a session
 * `SET` (or a startup parameter) would stay on a server connection that other clients use next,
 * and where a startup parameter other than a few (application_name among them) is refused.
 * Use it right after BEGIN: every later statement of the transaction, the export lock's wait
 * included, then runs under the timeout.
 */
export const SET_LOCAL_STATEMENT_TIMEOUT = "set_config('statement_timeout', $1, true)";

/** The bind parameter `$1` of SET_LOCAL_STATEMENT_TIMEOUT: the timeout in milliseconds. */
export function statementTimeoutParam(config: Pick<PostgresSinkConfig, 'statementTimeout'>): string {
  return String(config.statementTimeout);
}

/** Gives the transaction just begun on `client` the statement timeout (see SET_LOCAL_STATEMENT_TIMEOUT). */
export async function setLocalStatementTimeout(client: Pick<pg.ClientBase, 'query'>, config: Pick<PostgresSinkConfig, 'statementTimeout'>): Promise<void> {
  await client.query(`SELECT ${SET_LOCAL_STATEMENT_TIMEOUT}`, [statementTimeoutParam(config)]);
}

/**
 * Pool options for a sink. node-postgres lets the connection string override the options
 * object, so the URL's parameters for what kollect sets itself are dropped, and its ssl
 * parameters too when the config says how to do TLS.
 *
 * The only startup parameter kollect sends is `application_name` (PgBouncer tracks it per
 * client and sets it on whichever server connection runs the client's transaction). The
 * statement timeout is set per transaction instead (SET_LOCAL_STATEMENT_TIMEOUT).
 */
export async function poolConfig(config: PostgresSinkConfig, deps: ConnectionDeps = {}): Promise<{ options: pg.PoolConfig; secrets: string[] }> {
  let connectionString = await connectionUrl(config.name, config.url, deps);
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    throw new SinkError(config.name, 'connection URL is not a valid postgres:// URL', {}, { code: 'SINK_CONFIG' });
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new SinkError(config.name, `connection URL must start with postgres:// or postgresql://, not ${url.protocol}//`, {}, { code: 'SINK_CONFIG' });
  }
  // libpq's parameters say which are secret; the others (sslmode=require) would blank words out of messages.
  const secrets = [connectionString, ...urlSecrets(connectionString, (name) => LIBPQ_SECRETS.has(name))];
  for (const param of [...OWN_PARAMS, ...(config.ssl ? SSL_PARAMS : [])]) url.searchParams.delete(param);
  connectionString = url.toString();
  const ssl = config.ssl ? await sslOptions(config, deps) : undefined;
  const options: pg.PoolConfig = {
    connectionString,
    ...(ssl === undefined ? {} : { ssl }),
    application_name: APPLICATION_NAME,
    connectionTimeoutMillis: 30_000,
    // One client runs the export; a second one may record a failed run after a broken connection.
    max: 2,
    idleTimeoutMillis: 10_000,
  };
  return { options, secrets };
}

async function sslOptions(config: PostgresSinkConfig, deps: ConnectionDeps): Promise<false | ConnectionOptions> {
  const mode = config.ssl?.mode ?? 'verify-full';
  if (mode === 'disable') return false;
  if (mode === 'require') return { rejectUnauthorized: false };
  const ca = config.ssl?.caFile ? await readCaFile(config.name, 'ssl.caFile', config.ssl.caFile, deps.readFile) : undefined;
  if (mode === 'verify-ca') {
    // The chain must lead to the CA, but the host name is not checked (libpq's verify-ca).
    return { rejectUnauthorized: true, ...(ca ? { ca } : {}), checkServerIdentity: () => undefined };
  }
  return { rejectUnauthorized: true, ...(ca ? { ca } : {}) };
}
