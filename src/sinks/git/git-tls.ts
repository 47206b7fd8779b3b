import { Agent } from 'node:https';
import type { HttpClient } from 'isomorphic-git';
import type { GitSinkConfig } from './config.js';
import { readCaFile } from '../ca-file.js';

/**
 * The sink's HTTP client, trusting the CA of `tls.caFile` (a Git server whose certificate a
 * private CA signed) instead of Node's roots, as git's `http.sslCAInfo` does: every request goes
 * through an agent that verifies the server's certificate against it, host name included.
 * Without `tls`, `base` as it is.
 */
export async function trustingConfiguredCa(base: HttpClient, config: GitSinkConfig): Promise<HttpClient> {
  if (!config.tls) return base;
  const agent = new Agent({ ca: await readCaFile(config.name, 'tls.caFile', config.tls.caFile) });
  return { request: (request) => base.request({ ...request, agent }) };
}

/** Node's codes for a server certificate that no trusted CA signed (OpenSSL's verdicts). */
const UNTRUSTED_CERTIFICATE = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
]);

/**
 * What to do about `error` when the server's certificate was not trusted, for the end of its
 * message; '' for any other error.
 */
export function untrustedCertificateHint(error: unknown, config: { tls?: { caFile: string } | undefined }): string {
  let code: unknown;
  for (let e: unknown = error; e instanceof Error && code === undefined; e = e.cause) code = (e as NodeJS.ErrnoException).code;
  if (typeof code !== 'string' || !UNTRUSTED_CERTIFICATE.has(code)) return '';
  return config.tls
    ? ` (the CA in tls.caFile ${config.tls.caFile} did not sign the server's certificate)`
    : " (no CA that Node trusts signed the server's certificate: name the one that did in tls.caFile)";
}
