import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { after, before, beforeEach, describe, it } from 'node:test';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  paginateListObjectsV2,
  PutObjectCommand,
  S3Client,
  S3ServiceException,
  type PutObjectCommandInput,
} from '@aws-sdk/client-s3';
import { silenceNodeVersionWarning } from '../../src/sinks/s3/s3-client.js';
import { startS3Server, type S3Server } from './s3-server.js';

/**
 * The S3 test server itself, through the real SDK client: the preconditions AWS S3 enforces on
 * PUT and s3rver does not, its faults, its request log, and which payload-signing modes it takes.
 */

const BUCKET = 'inventory';

/** The settings kollect's client uses with stores other than AWS: checksums only when required, no retries (each test counts requests). */
function client(server: S3Server, overrides: Partial<ConstructorParameters<typeof S3Client>[0]> = {}): S3Client {
  silenceNodeVersionWarning(process.env);
  return new S3Client({
    endpoint: server.endpoint,
    region: server.region,
    forcePathStyle: true,
    credentials: server.credentials,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    maxAttempts: 1,
    ...overrides,
  });
}

/** What a PUT answered: its ETag, or the S3 error's name and HTTP status. */
async function put(s3: S3Client, input: Omit<PutObjectCommandInput, 'Bucket'>): Promise<{ etag?: string; error?: string; status?: number }> {
  try {
    return { etag: (await s3.send(new PutObjectCommand({ Bucket: BUCKET, ...input }))).ETag! };
  } catch (error) {
    if (!(error instanceof S3ServiceException)) throw error;
    return { error: error.name, status: error.$metadata.httpStatusCode! };
  }
}

async function stored(server: S3Server, key: string): Promise<string | undefined> {
  return (await server.readObject(BUCKET, key))?.body.toString('utf8');
}

describe('test/support/s3-server.ts', () => {
  let server: S3Server;
  let s3: S3Client;
  before(async () => {
    server = await startS3Server();
    s3 = client(server);
  });
  after(async () => {
    s3.destroy();
    await server.close();
  });
  beforeEach(async () => {
    await server.createBucket(BUCKET);
    server.clearFaults();
    server.clearRequests();
  });

  describe('preconditions on PUT, as AWS S3 enforces them', () => {
    it('GIVEN no object WHEN two PUTs with If-None-Match: * THEN the first is stored and the second gets 412 PreconditionFailed, the object unchanged', async () => {
      const first = await put(s3, { Key: 'none-match/manifest.json', Body: 'first', IfNoneMatch: '*' });
      const second = await put(s3, { Key: 'none-match/manifest.json', Body: 'second', IfNoneMatch: '*' });

      assert.ok(first.etag, JSON.stringify(first));
      assert.deepEqual(second, { error: 'PreconditionFailed', status: 412 });
      assert.equal(await stored(server, 'none-match/manifest.json'), 'first');
    });

    it('GIVEN an object WHEN PUT with If-Match: its ETag THEN stored; with an older ETag THEN 412; on a missing key THEN 404 NoSuchKey', async () => {
      const { etag: first } = await put(s3, { Key: 'match/manifest.json', Body: 'v1' });
      const { etag: second } = await put(s3, { Key: 'match/manifest.json', Body: 'v2', IfMatch: first });
      const stale = await put(s3, { Key: 'match/manifest.json', Body: 'v3', IfMatch: first });
      const missing = await put(s3, { Key: 'match/absent.json', Body: 'v1', IfMatch: first });

      assert.notEqual(second, first);
      assert.deepEqual(stale, { error: 'PreconditionFailed', status: 412 });
      assert.deepEqual(missing, { error: 'NoSuchKey', status: 404 });
      assert.equal(await stored(server, 'match/manifest.json'), 'v2');
      assert.equal(await stored(server, 'match/absent.json'), undefined);
    });

    it('GIVEN eight writers racing with the same If-Match (or If-None-Match: *) THEN exactly one wins, and its bytes are stored', async () => {
      const { etag } = await put(s3, { Key: 'race/manifest.json', Body: 'base' });
      const matchRace = await Promise.all([...Array(8).keys()].map((i) => put(s3, { Key: 'race/manifest.json', Body: `writer ${i}`, IfMatch: etag })));
      const noneRace = await Promise.all([...Array(8).keys()].map((i) => put(s3, { Key: 'race/new.json', Body: `writer ${i}`, IfNoneMatch: '*' })));

      for (const [race, key] of [
        [matchRace, 'race/manifest.json'],
        [noneRace, 'race/new.json'],
      ] as const) {
        const winners = race.flatMap((answer, i) => (answer.etag ? [i] : []));
        assert.equal(winners.length, 1, JSON.stringify(race));
        assert.equal(race.filter((answer) => answer.error === 'PreconditionFailed').length, 7);
        assert.equal(await stored(server, key), `writer ${winners[0]}`);
      }
    });
  });

  describe('faults', () => {
    it('GIVEN a 503 SlowDown for the second PUT under a prefix THEN that PUT fails with SlowDown, the others are stored', async () => {
      server.inject({ method: 'PUT', key: /^faults\//, nth: 2, kind: 'error', status: 503, code: 'SlowDown' });
      const answers = [];
      for (const name of ['a', 'b', 'c']) answers.push(await put(s3, { Key: `faults/${name}.json`, Body: name }));

      assert.deepEqual(answers[1], { error: 'SlowDown', status: 503 });
      assert.deepEqual(await server.listKeys(BUCKET, 'faults/'), ['faults/a.json', 'faults/c.json']);
      assert.deepEqual(
        server.requests.map((r) => [r.method, r.key, r.status]),
        [
          ['PUT', 'faults/a.json', 200],
          ['PUT', 'faults/b.json', 503],
          ['PUT', 'faults/c.json', 200],
        ],
      );
    });

    it('GIVEN denyDelete for a key THEN DeleteObjects reports it per key (AccessDenied) and deletes the rest; DeleteObject gets 403', async () => {
      for (const name of ['a', 'b', 'c']) await put(s3, { Key: `deny/${name}.json`, Body: name });
      server.denyDelete(/^deny\/b/);

      const answer = await s3.send(new DeleteObjectsCommand({ Bucket: BUCKET, Delete: { Objects: ['a', 'b', 'c'].map((n) => ({ Key: `deny/${n}.json` })) } }));
      assert.deepEqual(
        answer.Deleted?.map((d) => d.Key),
        ['deny/a.json', 'deny/c.json'],
      );
      assert.deepEqual(
        answer.Errors?.map((e) => [e.Key, e.Code]),
        [['deny/b.json', 'AccessDenied']],
      );
      await assert.rejects(s3.send(new DeleteObjectCommand({ Bucket: BUCKET, Key: 'deny/b.json' })), { name: 'AccessDenied' });
      assert.deepEqual(await server.listKeys(BUCKET, 'deny/'), ['deny/b.json']);
    });

    it('GIVEN a dropped connection THEN the client gets a network error and nothing is stored; GIVEN retries THEN the next attempt stores it', async () => {
      server.inject({ method: 'PUT', key: 'drop/a.json', kind: 'drop' });
      await assert.rejects(
        s3.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'drop/a.json', Body: 'a' })),
        (error: Error) => !(error instanceof S3ServiceException),
      );
      assert.equal(await stored(server, 'drop/a.json'), undefined);

      server.inject({ method: 'PUT', key: 'drop/a.json', kind: 'drop' });
      const retrying = client(server, { maxAttempts: 2 });
      await retrying.send(new PutObjectCommand({ Bucket: BUCKET, Key: 'drop/a.json', Body: 'a' }));
      retrying.destroy();
      assert.equal(await stored(server, 'drop/a.json'), 'a');
      assert.equal(server.count({ method: 'PUT', key: 'drop/a.json' }), 3);
    });

    it('GIVEN a slow answer and a client that waits less THEN the client times out', async () => {
      server.inject({ method: 'GET', key: 'slow/a.json', kind: 'slow', delayMs: 1000 });
      // Without throwOnRequestTimeout the SDK's handler only logs a warning and waits on.
      const impatient = client(server, { requestHandler: { requestTimeout: 100, throwOnRequestTimeout: true } });
      await assert.rejects(impatient.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'slow/a.json' })), { name: 'TimeoutError' });
      impatient.destroy();
    });
  });

  describe('requests and signatures', () => {
    it('GIVEN requests THEN count() tells them apart by method, key and query; clearRequests() starts over at zero', async () => {
      await put(s3, { Key: 'count/a.json', Body: 'a' });
      await s3.send(new GetObjectCommand({ Bucket: BUCKET, Key: 'count/a.json' }));

      assert.equal(server.count(), 2);
      assert.equal(server.count({ method: 'PUT' }), 1);
      assert.equal(server.count({ key: /^count\// }), 2);
      assert.equal(server.count({ query: 'delete' }), 0);
      server.clearRequests();
      assert.equal(server.count(), 0);
    });

    it('GIVEN more keys than a page holds THEN ListObjectsV2 pages through them with continuation tokens (s3rver alone fails there)', async () => {
      for (const name of ['a', 'b', 'c', 'd/e', 'f']) await put(s3, { Key: `pages/${name}.json`, Body: name });
      await put(s3, { Key: 'pages.json', Body: 'beside the prefix' });
      server.clearRequests();

      const keys: string[] = [];
      for await (const page of paginateListObjectsV2({ client: s3, pageSize: 2 }, { Bucket: BUCKET, Prefix: 'pages/' }))
        keys.push(...(page.Contents ?? []).map((o) => o.Key!));
      assert.deepEqual(keys, ['pages/a.json', 'pages/b.json', 'pages/c.json', 'pages/d/e.json', 'pages/f.json']);
      assert.equal(server.count({ query: 'list-type=2' }), 3);
    });

    it('GIVEN a wrong secret or an unknown access key THEN 403 SignatureDoesNotMatch or InvalidAccessKeyId, and nothing is stored', async () => {
      const wrongSecret = client(server, { credentials: { ...server.credentials, secretAccessKey: 'not-the-secret' } });
      const unknownKey = client(server, { credentials: { ...server.credentials, accessKeyId: 'AKIAUNKNOWN' } });

      assert.deepEqual(await put(wrongSecret, { Key: 'auth/a.json', Body: 'a' }), { error: 'SignatureDoesNotMatch', status: 403 });
      assert.deepEqual(await put(unknownKey, { Key: 'auth/a.json', Body: 'a' }), { error: 'InvalidAccessKeyId', status: 403 });
      assert.equal(await stored(server, 'auth/a.json'), undefined);
      wrongSecret.destroy();
      unknownKey.destroy();
    });

    it('GIVEN checksums only when required THEN a Buffer body is signed whole and stored byte for byte; GIVEN the SDK default on a stream THEN aws-chunked is refused, not stored mangled', async () => {
      const bytes = Buffer.from([0x1f, 0x8b, 0x00, 0xff, 0x0a, 0x0d, 0x7b]);
      await put(s3, { Key: 'modes/buffer.bin', Body: bytes });
      const sent = server.requests.at(-1)!;
      assert.match(sent.headers['x-amz-content-sha256']!, /^[0-9a-f]{64}$/);
      assert.deepEqual((await server.readObject(BUCKET, 'modes/buffer.bin'))?.body, bytes);

      const sdkDefault = client(server, { requestChecksumCalculation: 'WHEN_SUPPORTED' });
      const answer = await put(sdkDefault, { Key: 'modes/stream.bin', Body: Readable.from([bytes]), ContentLength: bytes.length });
      sdkDefault.destroy();
      assert.deepEqual(answer, { error: 'NotImplemented', status: 501 });
      assert.match(server.requests.at(-1)!.headers['x-amz-content-sha256']!, /^STREAMING-/);
      assert.equal(await stored(server, 'modes/stream.bin'), undefined);
    });
  });
});
