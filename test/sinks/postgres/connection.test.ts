import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SinkError } from '../../../src/errors.js';
import { redact } from '../../../src/redact.js';
import { poolConfig, statementTimeoutParam } from '../../../src/sinks/postgres/connection.js';
import { testSinkConfig } from '../../support/postgres.js';
import { createServerCertificate } from '../../support/tls.js';

/** How a sink's config and environment become pg pool options: URL, TLS, application_name, and no statement timeout at startup. */

const URL_ENV = 'KOLLECT_TEST_URL';
const env = (url: string) => ({ env: { [URL_ENV]: url } });
const config = (overrides: Record<string, unknown>) => testSinkConfig({ url: { env: URL_ENV }, ...overrides });
/** A real CA certificate: the sink checks that a CA file holds one that parses. */
const CA = (await createServerCertificate('db.example')).caPem;

describe('postgres sink: connection options', () => {
  it('GIVEN a URL in the environment WHEN options are built THEN application_name is kollect, no statement timeout is a startup parameter (the URL cannot set either), the password is a secret', async () => {
    const url = 'postgres://kollect:s3cret-pw@db.example:5432/fleet?sslmode=require&application_name=psql&statement_timeout=0';

    const { options, secrets } = await poolConfig(config({ ssl: undefined, statementTimeout: '90s' }), env(url));

    assert.equal(options.application_name, 'kollect');
    // PgBouncer refuses a statement_timeout startup parameter; each transaction sets it with SET LOCAL instead.
    assert.equal(options.statement_timeout, undefined);
    assert.equal(statementTimeoutParam(config({ statementTimeout: '90s' })), '90000');
    assert.equal(options.connectionString, 'postgres://kollect:s3cret-pw@db.example:5432/fleet?sslmode=require');
    assert.equal(options.ssl, undefined, 'without ssl in the config, the URL (sslmode=...) decides');
    assert.equal(redact(`cannot reach ${url} (s3cret-pw)`, secrets), 'cannot reach *** (***)');
  });

  it('GIVEN a password in the query WHEN options are built THEN it is a secret, and other parameters (sslmode=require) are not', async () => {
    const url = 'postgres://kollect@db.example/fleet?sslmode=require&password=q-s3cret';

    const { secrets } = await poolConfig(config({ ssl: undefined }), env(url));

    assert.equal(redact('password q-s3cret: SSL is required', secrets), 'password ***: SSL is required');
  });

  const modes: Array<[string, Record<string, unknown> | false]> = [
    ['disable', false],
    ['require', { rejectUnauthorized: false }],
    ['verify-ca', { rejectUnauthorized: true, ca: CA, checkServerIdentity: 'skipped' }],
    ['verify-full', { rejectUnauthorized: true, ca: CA }],
  ];
  for (const [mode, expected] of modes) {
    it(`GIVEN ssl.mode ${mode} and a CA file WHEN options are built THEN TLS is ${JSON.stringify(expected)} and the URL's own ssl parameters are dropped`, async () => {
      const deps = { ...env('postgres://u:p@db.example/fleet?sslmode=disable&sslrootcert=/x.pem&connect_timeout=5'), readFile: async () => CA };

      const { options } = await poolConfig(config({ ssl: { mode, caFile: '/etc/kollect/ca.pem' } }), deps);

      const ssl = options.ssl === false ? false : { ...(options.ssl as Record<string, unknown>) };
      if (ssl && typeof ssl.checkServerIdentity === 'function') {
        assert.equal((ssl.checkServerIdentity as () => unknown)(), undefined);
        ssl.checkServerIdentity = 'skipped';
      }
      assert.deepEqual(ssl, expected);
      assert.equal(options.connectionString, 'postgres://u:p@db.example/fleet?connect_timeout=5');
    });
  }

  const refused: Array<[string, Record<string, unknown>, Parameters<typeof poolConfig>[1], RegExp]> = [
    ['the variable is unset', {}, { env: {} }, /connection URL: environment variable KOLLECT_TEST_URL is missing or empty/],
    ['the URL is not postgres://', {}, env('mysql://u:p@db/x'), /must start with postgres:\/\/ or postgresql:\/\/, not mysql:\/\//],
    ['the URL does not parse', {}, env('not a url'), /not a valid postgres:\/\/ URL/],
    ['the secret file is missing', { url: { file: '/nonexistent/url' } }, {}, /connection URL: cannot read file \/nonexistent\/url: file not found/],
    [
      'the CA file is missing',
      { ssl: { mode: 'verify-full', caFile: '/nonexistent/ca.pem' } },
      env('postgres://u:p@db/x'),
      /ssl\.caFile \/nonexistent\/ca\.pem cannot be read: file not found/,
    ],
  ];
  for (const [when, overrides, deps, message] of refused) {
    it(`GIVEN ${when} WHEN options are built THEN SinkError SINK_CONFIG says so, without the URL`, async () => {
      await assert.rejects(poolConfig(config(overrides), deps), (error: unknown) => {
        assert.ok(error instanceof SinkError);
        assert.equal(error.code, 'SINK_CONFIG');
        assert.match(error.message, message);
        assert.doesNotMatch(error.message, /u:p@/);
        return true;
      });
    });
  }
});
