import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { SinkError } from '../../src/errors.js';
import { readCaFile } from '../../src/sinks/ca-file.js';
import { tempDir } from '../support/store-fixture.js';
import { createServerCertificate, type ServerCertificate } from '../support/tls.js';

/** A sink's CA file (`ssl.caFile`, `tls.caFile`), read from disk and checked before any connection. */

describe('sink CA files', () => {
  let dir: string;
  let first: ServerCertificate;
  let second: ServerCertificate;
  before(async () => {
    dir = await tempDir('kollect-ca-file-');
    [first, second] = await Promise.all([createServerCertificate('localhost'), createServerCertificate('localhost')]);
  });

  const file = async (name: string, text: string | Buffer): Promise<string> => {
    const path = join(dir, name);
    await writeFile(path, text);
    return path;
  };

  /** Asserts that reading `path` fails as SINK_CONFIG with exactly `message`. */
  const rejectsWith = (path: string, message: string): Promise<void> =>
    assert.rejects(readCaFile('fleet-db', 'ssl.caFile', path), (error: unknown) => {
      assert.ok(error instanceof SinkError);
      assert.equal(error.code, 'SINK_CONFIG');
      assert.equal(error.exitCode, 1);
      assert.equal(error.message, message);
      return true;
    });

  it('GIVEN a CA certificate, or a bundle of two WHEN read THEN the text is returned whole, for the TLS options', async () => {
    const single = await file('ca.crt', first.caPem);
    const bundle = await file('bundle.crt', `# the fleet's CAs\n${first.caPem}${second.caPem}`);

    assert.equal(await readCaFile('fleet-db', 'ssl.caFile', single), first.caPem);
    assert.equal(await readCaFile('fleet-db', 'ssl.caFile', bundle), `# the fleet's CAs\n${first.caPem}${second.caPem}`);
  });

  it('GIVEN a file that does not exist WHEN read THEN SINK_CONFIG names the field, the path and why', async () => {
    const missing = join(dir, 'absent.crt');

    await rejectsWith(missing, `sink "fleet-db": ssl.caFile ${missing} cannot be read: file not found`);
  });

  it('GIVEN a named pipe (FIFO) with no writer WHEN read THEN SINK_CONFIG says so at once, not a run that waits forever', async () => {
    const fifo = join(dir, 'ca.fifo');
    execFileSync('mkfifo', [fifo]);

    await rejectsWith(fifo, `sink "fleet-db": ssl.caFile ${fifo} cannot be read: is a named pipe (FIFO), not a regular file`);
  });

  for (const [what, text] of [
    ['an empty file', ''],
    ['the private key instead of the certificate', () => first.keyPem],
    ['the CA certificate as DER', () => new X509Certificate(first.caPem).raw],
  ] as const) {
    it(`GIVEN ${what} WHEN read THEN SINK_CONFIG says it holds no PEM certificate (Node's TLS would take it without a word)`, async () => {
      const path = await file('wrong.crt', typeof text === 'function' ? text() : text);

      await rejectsWith(
        path,
        `sink "fleet-db": ssl.caFile ${path} holds no PEM certificate (a -----BEGIN CERTIFICATE----- block): name the CA certificate, not a key or a DER file`,
      );
    });
  }

  it('GIVEN a bundle whose second certificate is damaged WHEN read THEN SINK_CONFIG says which one does not parse', async () => {
    const damaged = second.caPem.replace(/\n[A-Za-z0-9+/]{20}/, '\n!!!!!!!!!!!!!!!!!!!!');
    const path = await file('damaged.crt', first.caPem + damaged);

    await assert.rejects(readCaFile('audit', 'tls.caFile', path), (error: unknown) => {
      assert.ok(error instanceof SinkError);
      assert.equal(error.code, 'SINK_CONFIG');
      assert.ok(error.message.startsWith(`sink "audit": tls.caFile ${path} holds a certificate that does not parse (certificate 2 of 2): `), error.message);
      return true;
    });
  });
});
