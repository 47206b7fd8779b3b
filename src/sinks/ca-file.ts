import { X509Certificate } from 'node:crypto';
import { readTextFileOrReason } from '../fs/read-text-file.js';
import { SinkError } from '../errors.js';

const PEM_CERTIFICATE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The CA certificates (PEM) that a sink's configuration names in `field` (`ssl.caFile`,
 * `tls.caFile`), read and checked before the sink connects anywhere. A file that cannot be
 * read (or is no regular file: a named pipe would block), holds no PEM certificate or a certificate that does not parse is a SINK_CONFIG error
 * that names the field and the path: Node's TLS takes any text as `ca` without a word, and the
 * handshake would then fail as if the CA had not signed the server's certificate.
 */
export async function readCaFile(sink: string, field: string, path: string, read: (path: string) => Promise<string> = readTextFileOrReason): Promise<string> {
  const fail = (why: string, cause?: unknown): SinkError => new SinkError(sink, `${field} ${path} ${why}`, {}, { code: 'SINK_CONFIG', cause });
  let text: string;
  try {
    text = await read(path);
  } catch (error) {
    throw fail(`cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, error);
  }
  const certificates = text.match(PEM_CERTIFICATE) ?? [];
  if (certificates.length === 0) throw fail('holds no PEM certificate (a -----BEGIN CERTIFICATE----- block): name the CA certificate, not a key or a DER file');
  for (const [i, pem] of certificates.entries()) {
    try {
      new X509Certificate(pem);
    } catch (error) {
      throw fail(`holds a certificate that does not parse (certificate ${i + 1} of ${certificates.length}): ${(error as Error).message}`, error);
    }
  }
  return text;
}
