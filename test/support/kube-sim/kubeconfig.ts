import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { stringify } from 'yaml';

export interface KubeconfigTarget {
  url: string;
  token: string;
  /** The CA for an https server; absent for plain http. */
  caPem?: string;
}

export interface KubeconfigOptions {
  /** The name of the context, cluster and user (default kube-sim). */
  context?: string;
  /** Include the bearer token (default true); without it every request gets a 401. */
  withToken?: boolean;
}

/**
 * Writes a kubeconfig for the server that kubectl and @kubernetes/client-node load as they are:
 * the CA as certificate-authority-data over https; over http, insecure-skip-tls-verify, which
 * both clients demand before they speak plain http. Mode 0600: it holds a token.
 */
export async function writeKubeconfig(path: string, target: KubeconfigTarget, options: KubeconfigOptions = {}): Promise<void> {
  const name = options.context ?? 'kube-sim';
  const cluster = target.caPem
    ? { server: target.url, 'certificate-authority-data': Buffer.from(target.caPem).toString('base64') }
    : { server: target.url, 'insecure-skip-tls-verify': true };
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [{ name, cluster }],
    users: [{ name, user: options.withToken === false ? {} : { token: target.token } }],
    contexts: [{ name, context: { cluster: name, user: name } }],
    'current-context': name,
    preferences: {},
  };
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, stringify(config), { mode: 0o600 });
}
