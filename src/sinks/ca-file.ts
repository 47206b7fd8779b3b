import { readFile } from 'node:fs/promises';
import { SinkError } from '../errors.js';

/**
 * The CA certificates (PEM) that a sink's configuration names in `field` (`ssl.caFile`,
 * `tls.caFile`), read before the sink connects anywhere. A file that cannot be read is a
 * SINK_CONFIG error that names the field and the path.
 */
export async function readCaFile(sink: string, field: string, path: string, read: (path: string) => Promise<string> = (p) => readFile(p, 'utf8')): Promise<string> {
  try {
    return await read(path);
  } catch (error) {
    throw new SinkError(sink, `${field} ${path} cannot be read: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {}, { code: 'SINK_CONFIG', cause: error });
  }
}
