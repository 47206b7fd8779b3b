import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, beforeEach, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { KollectError } from '../../../src/errors.js';
import { s3SinkConfigSchema, type S3SinkConfigInput } from '../../../src/sinks/s3/config.js';
import { createObjectStore, type ObjectStore } from '../../../src/sinks/s3/object-store.js';
import { connectS3, type S3Connection } from '../../../src/sinks/s3/s3-client.js';
import { leaksOf } from '../../support/leaks.js';
import { startS3Server, type S3Server } from '../../support/s3-server.js';
import { BUCKET, s3SinkSettings, serverCredentialsEnv } from './s3-fixture.js';
import { collectAll } from '../../support/store-fixture.js';

/**
 * The object operations of the s3 sink (src/sinks/s3/object-store.ts) against the S3 test server:
 * what each stores and returns, and the typed error each failure of the store becomes.
 */

const sha256 = (text: string | Buffer): string => createHash('sha256').update(text).digest('hex');

describe('s3 object store', () => {
  let server: S3Server;
  const open: S3Connection[] = [];
  /** The sink's object store for `settings`, with the server's key pair in the environment (`env` on top). */
  async function storeFor(settings: Partial<S3SinkConfigInput> = {}, env: NodeJS.ProcessEnv = {}): Promise<ObjectStore> {
    const connection = await connectS3(s3SinkSettings(server, settings), { env: serverCredentialsEnv(server, env) });
    open.push(connection);
    return createObjectStore(connection);
  }
  /** The error `promise` rejects with, which must be a kollect error. */
  async function failure(promise: Promise<unknown>): Promise<KollectError> {
    try {
      await promise;
    } catch (error) {
      assert.ok(error instanceof KollectError, String(error));
      return error;
    }
    assert.fail('expected a failure');
  }

  let store: ObjectStore;
  before(async () => {
    server = await startS3Server();
    store = await storeFor();
  });
  after(async () => {
    for (const connection of open) connection.close();
    await server.close();
  });
  beforeEach(async () => {
    await server.createBucket(BUCKET);
    server.clearFaults();
    server.clearRequests();
  });

  describe('get, head, put', () => {
    it('GIVEN a document put THEN get returns its bytes, the ETag put returned and its SHA-256 from the metadata; head the same without the body', async () => {
      const document = '{"rows":[{"name":"web-1"}]}\n';
      const etag = await store.put('clusters/a/namespaces/web.json', document);

      const got = await store.get('clusters/a/namespaces/web.json');
      const head = await store.head('clusters/a/namespaces/web.json');
      assert.equal(got?.body.toString(), document);
      assert.equal(got?.etag, etag);
      assert.equal(got?.sha256, sha256(document));
      assert.deepEqual(head, { etag, sha256: sha256(document), metadata: { sha256: sha256(document) }, size: Buffer.byteLength(document) });
      assert.equal((await server.readObject(BUCKET, 'clusters/a/namespaces/web.json'))?.metadata['content-type'], 'application/json');
    });

    it('GIVEN a document put with its SHA-256 THEN the request declares that as its signed payload hash; GIVEN a SHA-256 that is not the body’s THEN the store refuses it and keeps nothing', async () => {
      const document = Buffer.from('{"rows":[{"name":"web-1"}]}\n');
      await store.put('known/web.json', document, { sha256: sha256(document) });
      const refused = await failure(store.put('known/other.json', document, { sha256: sha256('something else') }));

      assert.deepEqual(
        server.requests.map((r) => [r.method, r.status, r.headers['x-amz-content-sha256']]),
        [
          ['PUT', 200, sha256(document)],
          ['PUT', 400, sha256('something else')],
        ],
      );
      assert.equal(refused.code, 'S3_REQUEST_FAILED');
      assert.equal((await server.readObject(BUCKET, 'known/web.json'))?.body.toString(), document.toString());
      assert.equal(await server.readObject(BUCKET, 'known/other.json'), undefined);
    });

    it('GIVEN no object THEN get and head return undefined, one request each', async () => {
      assert.equal(await store.get('clusters/a/manifest.json'), undefined);
      assert.equal(await store.head('clusters/a/manifest.json'), undefined);
      assert.deepEqual(
        server.requests.map((r) => [r.method, r.status]),
        [
          ['GET', 404],
          ['HEAD', 404],
        ],
      );
    });

    it('GIVEN gzip THEN the object is stored gzip-encoded, get returns the document, and the SHA-256 is the document’s', async () => {
      const document = JSON.stringify({ rows: Array.from({ length: 200 }, (_, i) => ({ name: `pod-${i}` })) });
      await store.put('gz/web.json', document, { gzip: true });

      const raw = await server.readObject(BUCKET, 'gz/web.json');
      assert.equal(raw?.metadata['content-encoding'], 'gzip');
      assert.equal(gunzipSync(raw!.body).toString(), document);
      assert.ok(raw!.body.length < document.length / 2, `${raw!.body.length} bytes stored`);
      const got = await store.get('gz/web.json');
      assert.equal(got?.body.toString(), document);
      assert.equal(got?.sha256, sha256(document));
    });

    it('GIVEN If-None-Match: * on an existing object, or If-Match with an older ETag or on a deleted object THEN S3_PRECONDITION_FAILED, the object unchanged', async () => {
      const first = await store.put('race/manifest.json', 'v1', { ifNoneMatch: '*' });
      const second = await store.put('race/manifest.json', 'v2', { ifMatch: first });

      assert.equal((await failure(store.put('race/manifest.json', 'v3', { ifNoneMatch: '*' }))).code, 'S3_PRECONDITION_FAILED');
      const stale = await failure(store.put('race/manifest.json', 'v3', { ifMatch: first }));
      assert.equal(stale.code, 'S3_PRECONDITION_FAILED');
      assert.equal(stale.data.status, 412);
      assert.equal((await failure(store.put('race/deleted-meanwhile.json', 'v1', { ifMatch: first }))).code, 'S3_PRECONDITION_FAILED');
      assert.equal((await store.get('race/manifest.json'))?.etag, second);
      assert.equal((await store.get('race/manifest.json'))?.body.toString(), 'v2');
    });

    it('GIVEN five runs writing the manifest over the same ETag at once THEN one wins and four get S3_PRECONDITION_FAILED', async () => {
      const base = await store.put('race/five.json', 'base');
      const outcomes = await Promise.allSettled([1, 2, 3, 4, 5].map((run) => store.put('race/five.json', `run ${run}`, { ifMatch: base })));

      assert.equal(outcomes.filter((o) => o.status === 'fulfilled').length, 1);
      assert.deepEqual(
        outcomes.flatMap((o) => (o.status === 'rejected' ? [(o.reason as KollectError).code] : [])),
        Array(4).fill('S3_PRECONDITION_FAILED'),
      );
    });
  });

  describe('deleteMany and list', () => {
    it('GIVEN 1,001 keys WHEN deleted THEN two DeleteObjects requests (1,000 keys at most each) remove them all', async () => {
      const keys = Array.from({ length: 1001 }, (_, i) => `bulk/ns-${String(i).padStart(4, '0')}.json`);
      // One object in each batch: a key already absent counts as deleted, as in S3.
      await store.put(keys[0]!, 'first');
      await store.put(keys[1000]!, 'last');
      server.clearRequests();

      const result = await store.deleteMany(keys);
      assert.equal(result.deleted.length, 1001);
      assert.deepEqual(result.errors, []);
      assert.equal(server.count({ method: 'POST', query: 'delete' }), 2);
      assert.deepEqual(await server.listKeys(BUCKET, 'bulk/'), []);
    });

    it('GIVEN a key the store refuses to delete THEN deleteMany reports it with the store’s code, deletes the others, and the refused object stays', async () => {
      for (const key of ['keep/a.json', 'keep/b.json', 'keep/c.json']) await store.put(key, key);
      server.denyDelete('keep/b.json');

      const result = await store.deleteMany(['keep/a.json', 'keep/b.json', 'keep/c.json']);
      assert.deepEqual(result.deleted, ['keep/a.json', 'keep/c.json']);
      assert.deepEqual(result.errors, [{ key: 'keep/b.json', code: 'AccessDenied', message: 'Access Denied' }]);
      assert.deepEqual(await server.listKeys(BUCKET, 'keep/'), ['keep/b.json']);
    });

    it('GIVEN a store without multi-object delete (501, as GCS XML) THEN each key is deleted on its own', async () => {
      await store.put('single/a.json', 'a');
      await store.put('single/b.json', 'b');
      server.inject({
        method: 'POST',
        query: 'delete',
        kind: 'error',
        status: 501,
        code: 'NotImplemented',
        message: 'A header you provided implies functionality that is not implemented',
      });

      const result = await store.deleteMany(['single/a.json', 'single/b.json']);
      assert.deepEqual(result.deleted.sort(), ['single/a.json', 'single/b.json']);
      assert.equal(server.count({ method: 'DELETE' }), 2);
      assert.deepEqual(await server.listKeys(BUCKET, 'single/'), []);
    });

    it('GIVEN five objects under a prefix and others beside it WHEN listed two to a page THEN the five, in three requests', async () => {
      for (const key of ['list/a.json', 'list/b.json', 'list/c.json', 'list/d/e.json', 'list/f.json', 'listed.json', 'other/a.json']) await store.put(key, key);
      server.clearRequests();

      const listed = await collectAll(store.list('list/', { pageSize: 2 }));
      assert.deepEqual(
        listed.map((o) => o.key),
        ['list/a.json', 'list/b.json', 'list/c.json', 'list/d/e.json', 'list/f.json'],
      );
      assert.equal(listed[0]!.size, 'list/a.json'.length);
      assert.equal(server.count({ method: 'GET', query: 'list-type=2' }), 3);
    });
  });

  describe('failures', () => {
    it('GIVEN 503 SlowDown on every PUT THEN S3_UNAVAILABLE after the configured retries; GIVEN one 503 THEN a retry stores it', async () => {
      const patient = await storeFor({ retries: 2 });
      server.inject({ method: 'PUT', key: 'down/a.json', kind: 'error', status: 503, code: 'SlowDown', times: Infinity });
      const down = await failure(patient.put('down/a.json', 'a'));
      assert.equal(down.code, 'S3_UNAVAILABLE');
      assert.equal(server.count({ method: 'PUT' }), 3);

      server.clearFaults();
      server.inject({ method: 'PUT', key: 'down/b.json', kind: 'error', status: 503, code: 'ServiceUnavailable' });
      await patient.put('down/b.json', 'b');
      assert.equal((await server.readObject(BUCKET, 'down/b.json'))?.body.toString(), 'b');
    });

    it('GIVEN dropped connections, or a store silent longer than requestTimeout THEN S3_UNAVAILABLE', async () => {
      server.inject({ method: 'PUT', key: 'drop/a.json', kind: 'drop' });
      assert.equal((await failure(store.put('drop/a.json', 'a'))).code, 'S3_UNAVAILABLE');

      server.inject({ method: 'GET', key: 'slow/a.json', kind: 'slow', delayMs: 2500 });
      const impatient = await storeFor({ requestTimeout: '1s' });
      assert.equal((await failure(impatient.get('slow/a.json'))).code, 'S3_UNAVAILABLE');
    });

    it('GIVEN an AbortSignal that fires during a request THEN INTERRUPTED', async () => {
      server.inject({ method: 'GET', key: 'abort/a.json', kind: 'slow', delayMs: 2000 });
      const controller = new AbortController();
      const pending = store.get('abort/a.json', { signal: controller.signal });
      setTimeout(() => controller.abort(), 50);
      assert.equal((await failure(pending)).code, 'INTERRUPTED');
    });

    it('GIVEN a bucket that does not exist THEN S3_NO_SUCH_BUCKET naming it', async () => {
      const elsewhere = await storeFor({ bucket: 'no-such-bucket' });
      const error = await failure(elsewhere.put('a.json', 'a'));
      assert.equal(error.code, 'S3_NO_SUCH_BUCKET');
      assert.equal(error.data.bucket, 'no-such-bucket');
    });

    it('GIVEN a wrong secret or an unknown key THEN S3_AUTH_FAILED naming the bucket and the endpoint, and the secret is in no output', async () => {
      const wrongSecret = 'wrong-secret-Zq81vT0x';
      const badSecret = await storeFor({}, { TEST_S3_SECRET: wrongSecret });
      const badKey = await storeFor({}, { TEST_S3_KEY: 'AKIAKOLLECTUNKNOWN' });

      for (const error of [await failure(badSecret.put('auth/a.json', 'a')), await failure(badKey.get('auth/a.json'))]) {
        assert.equal(error.code, 'S3_AUTH_FAILED');
        assert.match(error.message, new RegExp(`bucket ${BUCKET} at ${server.endpoint}`));
        const output = { message: error.message, json: JSON.stringify(error), stack: String(error.stack) };
        assert.deepEqual(await leaksOf([wrongSecret, server.credentials.secretAccessKey], output, []), []);
      }
      assert.deepEqual(await server.listKeys(BUCKET, 'auth/'), []);
    });

    it('GIVEN credentials that name an unset variable THEN S3_AUTH_MISSING naming the field, before any request', async () => {
      const config = s3SinkConfigSchema.parse({
        name: 'fleet-bucket',
        type: 's3',
        bucket: BUCKET,
        endpoint: server.endpoint,
        credentials: { accessKeyId: { env: 'UNSET_KEY' }, secretAccessKey: { env: 'UNSET_SECRET' } },
      });
      const error = await failure(connectS3(config, { env: {} }));
      assert.equal(error.code, 'S3_AUTH_MISSING');
      assert.match(error.message, /credentials\.accessKeyId: environment variable UNSET_KEY is missing or empty/);
      assert.equal(server.count(), 0);
    });
  });
});
