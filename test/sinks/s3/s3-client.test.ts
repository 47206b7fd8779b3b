import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { KollectError } from '../../../src/errors.js';
import { s3SinkConfigSchema } from '../../../src/sinks/s3/config.js';
import { createObjectStore } from '../../../src/sinks/s3/object-store.js';
import { connectS3 } from '../../../src/sinks/s3/s3-client.js';
import { startS3Server, type S3Server } from '../../support/s3-server.js';
import { BUCKET, s3SinkSettings, serverCredentialsEnv } from './s3-fixture.js';

/**
 * How the s3 sink's client is built from its settings (src/sinks/s3/s3-client.ts): TLS with a
 * private CA, the SDK's credential chain, the region, and the SDK's Node-version warning.
 */

const run = promisify(execFile);
const CLIENT_MODULE = fileURLToPath(new URL('../../../src/sinks/s3/s3-client.ts', import.meta.url));
const STORE_MODULE = fileURLToPath(new URL('../../../src/sinks/s3/object-store.ts', import.meta.url));

describe('s3 client', () => {
  describe('TLS', () => {
    let server: S3Server;
    before(async () => {
      server = await startS3Server({ tls: true });
      await server.createBucket(BUCKET);
    });
    after(() => server.close());

    it('GIVEN an https store whose certificate a private CA signed WHEN tls.caFile names that CA THEN objects are written and read', async () => {
      const connection = await connectS3(s3SinkSettings(server, { tls: { caFile: server.caFile! } }), { env: serverCredentialsEnv(server) });
      const store = createObjectStore(connection);
      await store.put('tls/a.json', '{"a":1}');
      assert.equal((await store.get('tls/a.json'))?.body.toString(), '{"a":1}');
      connection.close();
    });

    it('GIVEN the same store without tls.caFile THEN the certificate is refused, the error says to name the CA in tls.caFile, and nothing reaches the store', async () => {
      server.clearRequests();
      const connection = await connectS3(s3SinkSettings(server), { env: serverCredentialsEnv(server) });
      await assert.rejects(createObjectStore(connection).put('tls/b.json', 'b'), (error: KollectError) => {
        assert.equal(error.code, 'S3_REQUEST_FAILED');
        assert.match(error.message, /tls\.caFile/);
        return true;
      });
      connection.close();
      assert.equal(server.count(), 0);
    });

    it('GIVEN a tls.caFile that holds no certificate THEN SINK_CONFIG naming the field, before any request', async () => {
      await assert.rejects(connectS3(s3SinkSettings(server, { tls: { caFile: CLIENT_MODULE } }), { env: serverCredentialsEnv(server) }), {
        code: 'SINK_CONFIG',
        message: /tls\.caFile .* holds no PEM certificate/,
      });
    });
  });

  it('GIVEN no region, no AWS_REGION and no endpoint THEN SINK_CONFIG naming region', async () => {
    const config = s3SinkConfigSchema.parse({ name: 'fleet-bucket', type: 's3', bucket: BUCKET });
    await assert.rejects(connectS3(config, { env: {} }), { code: 'SINK_CONFIG', message: /region: no region is configured and AWS_REGION is not set/ });
  });

  it("GIVEN no credentials in the settings THEN the SDK's chain finds them in the environment; on Node 20 the SDK's version warning is not printed, other warnings are", async () => {
    const server = await startS3Server();
    try {
      await server.createBucket(BUCKET);
      const config = { ...s3SinkSettings(server), credentials: undefined };
      const script = [
        `const { connectS3 } = await import(${JSON.stringify(CLIENT_MODULE)});`,
        `const { createObjectStore } = await import(${JSON.stringify(STORE_MODULE)});`,
        `const connection = await connectS3(${JSON.stringify(config)});`,
        `await createObjectStore(connection).put('chain/a.json', 'from the environment');`,
        'connection.close();',
        "process.emitWarning('another warning');",
      ].join('\n');
      const { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: _unset, ...env } = process.env;
      const { stderr } = await run(process.execPath, ['--import', 'tsx', '--input-type=module', '--eval', script], {
        env: {
          ...env,
          AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
          AWS_EC2_METADATA_DISABLED: 'true',
        },
      });

      assert.equal((await server.readObject(BUCKET, 'chain/a.json'))?.body.toString(), 'from the environment');
      assert.doesNotMatch(stderr, /NodeVersionSupportWarning/);
      assert.match(stderr, /another warning/);
    } finally {
      await server.close();
    }
  });
});
