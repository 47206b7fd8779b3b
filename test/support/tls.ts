import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ServerCertificate {
  /** The CA that signed the server certificate: what a kubeconfig's certificate-authority-data holds, or a sink's caFile. */
  caPem: string;
  certPem: string;
  keyPem: string;
}

/**
 * A throwaway CA and a server certificate it signs for `host` (and localhost/127.0.0.1), for the
 * test servers' TLS (kube-sim, the git server), made with the openssl CLI: Node can parse X.509 but not issue it. EC keys keep it fast (~50 ms).
 * The CA key never leaves the temporary folder, which is removed.
 */
export async function createServerCertificate(host: string): Promise<ServerCertificate> {
  const dir = await mkdtemp(join(tmpdir(), 'kollect-test-tls-'));
  const file = (name: string): string => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  try {
    await run('openssl', [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      file('ca.key'),
      '-out',
      file('ca.crt'),
      '-days',
      '2',
      '-subj',
      '/CN=kollect-test-ca',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ]);
    await run('openssl', ['req', ...ec, '-keyout', file('server.key'), '-out', file('server.csr'), '-subj', '/CN=kollect-test-server']);
    const names = new Set(['DNS:localhost', 'IP:127.0.0.1', isIP(host) ? `IP:${host}` : `DNS:${host}`]);
    await writeFile(
      file('server.ext'),
      `subjectAltName=${[...names].join(',')}\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\n`,
    );
    await run('openssl', [
      'x509',
      '-req',
      '-in',
      file('server.csr'),
      '-CA',
      file('ca.crt'),
      '-CAkey',
      file('ca.key'),
      '-CAcreateserial',
      '-days',
      '2',
      '-out',
      file('server.crt'),
      '-extfile',
      file('server.ext'),
    ]);
    const [caPem, certPem, keyPem] = await Promise.all(['ca.crt', 'server.crt', 'server.key'].map((name) => readFile(file(name), 'utf8')));
    return { caPem: caPem!, certPem: certPem!, keyPem: keyPem! };
  } catch (error) {
    throw new Error(`cannot create the test servers' TLS certificates with the openssl CLI: ${(error as Error).message}`, { cause: error });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
