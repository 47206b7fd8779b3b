import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatIssuePath } from '../../../src/config/load.js';
import { s3SinkConfigSchema } from '../../../src/sinks/s3/config.js';

/**
 * The s3 sink's settings on their own (the sink registry puts them in the config union). As in
 * test/config/, each refused setting is named by its path, with what was expected.
 */

const MINIMAL = { name: 'fleet-bucket', type: 's3', bucket: 'inventory' };

function issuesOf(raw: unknown): Array<{ path: string; message: string }> {
  const result = s3SinkConfigSchema.safeParse(raw);
  assert.ok(!result.success, 'expected the settings to be refused');
  return result.error.issues.map((issue) => ({ path: formatIssuePath(issue.path), message: issue.message }));
}

describe('s3 sink settings (src/sinks/s3/config.ts)', () => {
  it('GIVEN only a name and a bucket THEN the defaults are those of the file and Git sinks, the SDK chain for credentials, conditional writes on auto', () => {
    assert.deepEqual(s3SinkConfigSchema.parse(MINIMAL), {
      ...MINIMAL,
      prefix: '',
      pathTemplate: 'clusters/{cluster}/namespaces/{namespace}.json',
      forcePathStyle: false,
      exportMinInterval: 0,
      gzip: false,
      conditionalWrites: 'auto',
      requestTimeout: 60_000,
      retries: 3,
    });
  });

  it('GIVEN every setting THEN each is kept, durations in milliseconds and secrets as references', () => {
    const config = s3SinkConfigSchema.parse({
      ...MINIMAL,
      prefix: 'fleet/prod',
      pathTemplate: '{cluster}/{namespace}.json',
      endpoint: 'https://minio.internal:9000',
      region: 'eu-west-1',
      forcePathStyle: true,
      exportMinInterval: '15m',
      gzip: true,
      tls: { caFile: '/etc/kollect/ca.pem' },
      credentials: { accessKeyId: { env: 'S3_KEY' }, secretAccessKey: { file: '/var/run/secrets/s3' } },
      conditionalWrites: 'required',
      requestTimeout: '10s',
      retries: 0,
    });
    assert.equal(config.exportMinInterval, 900_000);
    assert.equal(config.requestTimeout, 10_000);
    assert.deepEqual(config.credentials, { accessKeyId: { env: 'S3_KEY' }, secretAccessKey: { file: '/var/run/secrets/s3' } });
  });

  const refused: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['an inline secret', { credentials: { accessKeyId: { env: 'K' }, secretAccessKey: 'hunter2' } }, 'credentials.secretAccessKey', /never written inline/],
    ['a missing secret', { credentials: { accessKeyId: { env: 'K' } } }, 'credentials.secretAccessKey', /./],
    ['an upper-case bucket', { bucket: 'Inventory' }, 'bucket', /bucket name/],
    ['a bucket of two characters', { bucket: 'ab' }, 'bucket', /3 to 222/],
    ['a prefix that climbs out', { prefix: 'fleet/../other' }, 'prefix', /without "." or ".."/],
    ['an absolute prefix', { prefix: '/fleet' }, 'prefix', /relative key prefix/],
    ['a pathTemplate without {namespace}', { pathTemplate: '{cluster}.json' }, 'pathTemplate', /\{namespace\}/],
    ['credentials in the endpoint', { endpoint: 'https://key:secret@minio:9000' }, 'endpoint', /must not carry credentials/],
    ['an endpoint that is no http(s) URL', { endpoint: 's3://bucket' }, 'endpoint', /http\(s\) URL/],
    ['tls with a plain-http endpoint', { endpoint: 'http://minio:9000', tls: { caFile: '/ca.pem' } }, 'tls', /https endpoint/],
    ['an unknown conditionalWrites', { conditionalWrites: 'sometimes' }, 'conditionalWrites', /auto|required|off/],
    ['a request timeout under a second', { requestTimeout: '0' }, 'requestTimeout', /at least 1s/],
    ['a setting that does not exist', { acl: 'public-read' }, '', /acl/],
    ['a name that is no DNS label', { name: 'Fleet Bucket' }, 'name', /DNS-1123/],
  ];
  for (const [what, change, path, message] of refused) {
    it(`GIVEN ${what} THEN it is refused, naming ${path || 'the sink'}`, () => {
      const issues = issuesOf({ ...MINIMAL, ...change });
      const issue = issues.find((i) => i.path === path);
      assert.ok(issue, JSON.stringify(issues));
      assert.match(issue.message, message);
      assert.ok(!JSON.stringify(issues).includes('hunter2'), 'an inline secret is echoed');
    });
  }
});
