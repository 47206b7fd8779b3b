import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { startS3ServerProcess, type S3ServerProcess } from '../../../scripts/support/s3-server-process.js';
import { silenceNodeVersionWarning } from '../../../src/sinks/s3/s3-client.js';

/** The S3 test server in a process of its own, as bench:s3 runs it: the proxy's checks still hold, and its request log is read over IPC. */

const BUCKET = 'bench';

describe('the S3 test server in a process of its own', () => {
  let server: S3ServerProcess;
  let s3: S3Client;
  before(async () => {
    server = await startS3ServerProcess([BUCKET]);
    silenceNodeVersionWarning(process.env);
    s3 = new S3Client({
      endpoint: server.endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: server.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      maxAttempts: 1,
    });
  });
  after(async () => {
    s3.destroy();
    await server.close();
  });

  it('GIVEN its bucket and key pair WHEN a PUT is signed with them and one without THEN the log holds both, with the status each got, until cleared', async () => {
    await s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'clusters/c1/namespaces/ns-001.json', Body: '{}' }));
    const unsigned = await fetch(`${server.endpoint}/${BUCKET}/manifest.json`, { method: 'PUT', body: '{}' });

    assert.equal(unsigned.status, 403);
    assert.deepEqual(
      (await server.requests()).map((r) => [r.method, r.key, r.status]),
      [
        ['PUT', 'clusters/c1/namespaces/ns-001.json', 200],
        ['PUT', 'manifest.json', 403],
      ],
    );
    await server.clearRequests();
    assert.deepEqual(await server.requests(), []);
  });

  it('GIVEN a closed server WHEN a request comes THEN nothing answers', async () => {
    const closing = await startS3ServerProcess([BUCKET]);
    await closing.close();

    await assert.rejects(fetch(`${closing.endpoint}/${BUCKET}/x`), TypeError);
  });
});
