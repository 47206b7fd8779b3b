import assert from 'node:assert/strict';
import { copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { sinkConfig, type GitSinkConfig } from '../../../src/config/schema.js';
import { SinkError } from '../../../src/errors.js';
import { trustingConfiguredCa, untrustedCertificateHint } from '../../../src/sinks/git/git-tls.js';
import { withGitServer, type GitServer } from '../../support/git-server.js';
import { tempDir } from '../../support/store-fixture.js';

function gitConfig(url: string, caFile?: string): GitSinkConfig {
  return sinkConfig.parse({ name: 'audit', type: 'git', url, ...(caFile ? { tls: { caFile } } : {}) }) as GitSinkConfig;
}

/** The smart HTTP protocol's first request, as a fetch makes it: its status, or the error it failed with. */
async function advertisement(http: HttpClient, server: GitServer): Promise<number | Error> {
  try {
    const response = await http.request({ url: `${server.url}/info/refs?service=git-upload-pack`, method: 'GET', headers: {} });
    for await (const _chunk of response.body ?? []) {
      // drained: only the status matters
    }
    return response.statusCode;
  } catch (error) {
    return error as Error;
  }
}

describe('git sink TLS: tls.caFile', () => {
  it('GIVEN an https server of a private CA WHEN requesting with and without its CA THEN only the CA of tls.caFile is trusted, and the untrusted answer gets a hint naming tls.caFile', () =>
    withGitServer({ tls: true }, async (server) => {
      // Another server's CA, kept beyond that server's life (closing it removes its folder).
      const other = join(await tempDir('kollect-ca-'), 'other-ca.crt');
      await withGitServer({ tls: true }, async (another) => copyFile(another.caFile!, other));

      const trusted = await advertisement(await trustingConfiguredCa(nodeHttp, gitConfig(server.url, server.caFile)), server);
      const untrusted = await advertisement(await trustingConfiguredCa(nodeHttp, gitConfig(server.url)), server);
      const wrongCa = await advertisement(await trustingConfiguredCa(nodeHttp, gitConfig(server.url, other)), server);

      assert.equal(trusted, 200);
      assert.ok(untrusted instanceof Error, 'a certificate of an unknown CA was accepted');
      assert.match(untrustedCertificateHint(untrusted, gitConfig(server.url)), /name the one that did in tls\.caFile/);
      assert.ok(wrongCa instanceof Error, 'a certificate of another CA was accepted');
      assert.ok(untrustedCertificateHint(wrongCa, gitConfig(server.url, other)).includes(`the CA in tls.caFile ${other} did not sign`));
    }));

  it('GIVEN an error that is not about the certificate WHEN asking for a hint THEN there is none', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });
    assert.equal(untrustedCertificateHint(refused, gitConfig('https://git.example.com/r.git')), '');
    assert.equal(untrustedCertificateHint(new Error('wrapped', { cause: refused }), gitConfig('https://git.example.com/r.git')), '');
  });

  it('GIVEN a tls.caFile that does not exist WHEN the client is made THEN SINK_CONFIG names the field and the path', async () => {
    const missing = join(await tempDir('kollect-ca-'), 'absent.crt');

    await assert.rejects(trustingConfiguredCa(nodeHttp, gitConfig('https://git.example.com/r.git', missing)), (error: unknown) => {
      assert.ok(error instanceof SinkError);
      assert.equal(error.code, 'SINK_CONFIG');
      assert.equal(error.message, `sink "audit": tls.caFile ${missing} cannot be read: file not found`);
      return true;
    });
  });
});
