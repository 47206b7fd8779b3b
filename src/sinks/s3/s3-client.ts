import { Agent } from 'node:https';
import { S3Client } from '@aws-sdk/client-s3';
import { readRequiredSecret, type SecretDeps } from '../../config/secret.js';
import type { SecretRef } from '../../config/fields.js';
import { SinkError } from '../../errors.js';
import { readCaFile } from '../ca-file.js';
import type { S3SinkConfig } from './config.js';

/**
 * The S3 client of one s3 sink, built from its settings. This module and the ones that import it
 * are the only ones that load the AWS SDK; the sink registry imports them only when an s3 sink is
 * configured, and the bundle keeps the SDK in a file of its own (scripts/bundle.ts).
 */

/** A client and what messages about its requests need. */
export interface S3Connection {
  readonly client: S3Client;
  /** The sink's name, for SinkError. */
  readonly sink: string;
  readonly bucket: string;
  /** Where the bucket is, for messages: the endpoint, or `AWS S3 (<region>)`; never a credential. */
  readonly where: string;
  /** The configured CA file, for the hint on a certificate no trusted CA signed. */
  readonly tls: { caFile: string } | undefined;
  /** The values of the configured secrets, so that no message can carry one (redact). */
  readonly secrets: readonly string[];
  /** Closes the client's connections. */
  close(): void;
}

/** A region for an S3-compatible endpoint without one: most take any, and MinIO's default is this. */
const COMPATIBLE_STORE_REGION = 'us-east-1';

/**
 * The SDK warns once per process on Node 20 (NodeVersionSupportWarning, a `process.emitWarning`)
 * that its later versions will need Node 22. kollect's image runs Node 24; on Node 20 that
 * warning would land in every run's output. This is the SDK's own switch for that one warning,
 * read when a client is made; a value the user set stays as it is.
 */
export function silenceNodeVersionWarning(env: NodeJS.ProcessEnv): void {
  env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
}

function readCredential(sink: string, field: string, ref: SecretRef, deps: SecretDeps): Promise<string> {
  return readRequiredSecret(ref, deps, (problem, cause) => new SinkError(sink, `${field}: ${problem}`, { field }, { code: 'S3_AUTH_MISSING', cause }));
}

/** The configured key pair, or undefined for the SDK's default chain (environment, web identity, instance profile). */
async function staticCredentials(
  config: S3SinkConfig,
  deps: SecretDeps,
): Promise<{ accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined> {
  if (!config.credentials) return undefined;
  const { accessKeyId, secretAccessKey, sessionToken } = config.credentials;
  return {
    accessKeyId: await readCredential(config.name, 'credentials.accessKeyId', accessKeyId, deps),
    secretAccessKey: await readCredential(config.name, 'credentials.secretAccessKey', secretAccessKey, deps),
    ...(sessionToken ? { sessionToken: await readCredential(config.name, 'credentials.sessionToken', sessionToken, deps) } : {}),
  };
}

/**
 * Builds the sink's client; connects nowhere yet. Reads the referenced secrets and the CA file,
 * so a missing one fails here (S3_AUTH_MISSING, SINK_CONFIG), naming the field.
 *
 * - Checksums only WHEN_REQUIRED, both ways: the SDK's default sends CRC32 checksums, as
 *   aws-chunked trailers on streamed bodies, which stores other than AWS reject or store as the
 *   object's bytes. kollect sends whole buffers, signed with their SHA-256.
 * - `requestTimeout` is the longest silence of the store within a request (a socket timeout, not
 *   a deadline for a large body); `retries` bound the SDK's standard retries of 5xx, throttling,
 *   timeouts and dropped connections.
 * - With `tls.caFile`, that CA is trusted instead of Node's roots; the certificate is verified
 *   either way, host name included.
 */
export async function connectS3(config: S3SinkConfig, deps: SecretDeps = {}): Promise<S3Connection> {
  const env = deps.env ?? process.env;
  const credentials = await staticCredentials(config, deps);
  const ca = config.tls ? await readCaFile(config.name, 'tls.caFile', config.tls.caFile) : undefined;
  const region = config.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? (config.endpoint ? COMPATIBLE_STORE_REGION : undefined);
  if (region === undefined) {
    throw new SinkError(
      config.name,
      "region: no region is configured and AWS_REGION is not set; name the bucket's region",
      { field: 'region' },
      { code: 'SINK_CONFIG' },
    );
  }
  silenceNodeVersionWarning(process.env);
  const httpsAgent = new Agent({ keepAlive: true, ...(ca ? { ca } : {}) });
  const client = new S3Client({
    region,
    ...(config.endpoint ? { endpoint: config.endpoint } : {}),
    forcePathStyle: config.forcePathStyle,
    ...(credentials ? { credentials } : {}),
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: config.retries + 1,
    requestHandler: { httpsAgent, socketTimeout: config.requestTimeout, connectionTimeout: config.requestTimeout },
  });
  return {
    client,
    sink: config.name,
    bucket: config.bucket,
    where: config.endpoint ?? `AWS S3 (${region})`,
    tls: config.tls,
    secrets: credentials ? [credentials.secretAccessKey, credentials.sessionToken ?? ''].filter(Boolean) : [],
    close: () => {
      client.destroy();
      httpsAgent.destroy();
    },
  };
}
