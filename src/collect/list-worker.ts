/**
 * A list worker: parses pages of lists and encodes their rows (parse, project, serialize,
 * checksum: the work that kept the main thread busy), and hands the lines back. The main thread
 * keeps the HTTP, the retries and the spool. Started by ListPool (src/collect/list-pool.ts); does
 * nothing unless it is a worker thread.
 */
import { isMainThread, parentPort } from 'node:worker_threads';
import { spoolPageTransferList } from '../store/spool-page.js';
import { toWorkerError, type EncodeRequest, type EncodeResult } from './list-protocol.js';
import { pageWork } from './list-rows.js';

function serve(port: NonNullable<typeof parentPort>): void {
  const encoders = new Map<number, ReturnType<typeof pageWork>>();
  port.on('message', (request: EncodeRequest) => {
    let result: EncodeResult;
    try {
      let encoder = encoders.get(request.encoder.id);
      if (!encoder) {
        const { cluster, type, profile, fastParse } = request.encoder;
        encoder = pageWork(cluster, type, profile, fastParse);
        encoders.set(request.encoder.id, encoder);
      }
      const body = Buffer.from(request.body.buffer, request.body.byteOffset, request.body.byteLength);
      result = { id: request.id, ...encoder({ body, continue: request.continue, what: request.what }) };
    } catch (error) {
      result = { id: request.id, error: toWorkerError(error) };
    }
    port.postMessage(result, 'page' in result ? spoolPageTransferList(result.page) : []);
  });
}

if (!isMainThread && parentPort) serve(parentPort);
