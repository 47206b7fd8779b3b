import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import nodeHttp from 'isomorphic-git/http/node';
import { InterruptedError, SinkError } from '../../../src/errors.js';
import { remoteHttp } from '../../../src/sinks/git/remote-http.js';

/**
 * A server that answers every request with its headers and a first chunk at once, then stays
 * silent: a real `git http-backend` sends its headers before receive-pack runs the hooks.
 */
async function withSilentServer(body: (url: string, seen: string[]) => Promise<void>): Promise<void> {
  const open = new Set<ServerResponse>();
  const seen: string[] = [];
  const server = createServer((req, res) => {
    seen.push(req.url ?? '');
    open.add(res);
    res.writeHead(200, { 'content-type': 'application/x-git-receive-pack-result' });
    res.write('0008NAK\n');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await body(`http://127.0.0.1:${(server.address() as AddressInfo).port}/r.git`, seen);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

async function readAll(body: AsyncIterableIterator<Uint8Array> | undefined): Promise<number> {
  let bytes = 0;
  for await (const chunk of body ?? []) bytes += chunk.byteLength;
  return bytes;
}

const request = (url: string) => ({ url: `${url}/git-receive-pack`, method: 'POST', headers: {} });

describe('git sink: requests to the remote', () => {
  it('GIVEN a server silent in the middle of its answer WHEN reading it THEN after timeoutMs a SinkError GIT_TIMEOUT naming the request, with the query credentials sent but not named', () =>
    withSilentServer(async (url, seen) => {
      const http = remoteHttp(nodeHttp, { sink: 'audit', query: 'access_token=t0k', timeoutMs: 300, signal: new AbortController().signal });

      const response = await http.request(request(url));

      await assert.rejects(readAll(response.body), (error: unknown) => {
        assert.ok(error instanceof SinkError, String(error));
        assert.equal(error.code, 'GIT_TIMEOUT');
        assert.match(error.message, /^sink "audit": the Git server sent nothing for 0\.3s \(POST git-receive-pack\)/);
        assert.ok(!error.message.includes('t0k'));
        return true;
      });
      assert.deepEqual(seen, ['/r.git/git-receive-pack?access_token=t0k']);
    }));

  it('GIVEN an answer in progress WHEN the run is aborted (SIGTERM) THEN reading it fails at once with InterruptedError', () =>
    withSilentServer(async (url) => {
      const run = new AbortController();
      const http = remoteHttp(nodeHttp, { sink: 'audit', query: '', timeoutMs: 60_000, signal: run.signal });
      const response = await http.request(request(url));
      setTimeout(() => run.abort(), 100);

      await assert.rejects(readAll(response.body), InterruptedError);
    }));
});
