import { s3SinkConfigSchema, type S3SinkConfig, type S3SinkConfigInput } from '../../../src/sinks/s3/config.js';
import type { S3Server } from '../../support/s3-server.js';

/** The bucket the s3 tests write to. */
export const BUCKET = 'inventory';

/** The variables the settings of s3SinkSettings name, holding the server's key pair (with `overrides` on top). */
export function serverCredentialsEnv(server: S3Server, overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return { TEST_S3_KEY: server.credentials.accessKeyId, TEST_S3_SECRET: server.credentials.secretAccessKey, ...overrides };
}

/** An s3 sink's settings for the test server: path-style, credentials from TEST_S3_KEY and TEST_S3_SECRET, no retries (tests count requests). */
export function s3SinkSettings(server: S3Server, more: Partial<S3SinkConfigInput> = {}): S3SinkConfig {
  return s3SinkConfigSchema.parse({
    name: 'fleet-bucket',
    type: 's3',
    bucket: BUCKET,
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: { env: 'TEST_S3_KEY' }, secretAccessKey: { env: 'TEST_S3_SECRET' } },
    retries: 0,
    ...more,
  });
}
