import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { streamingHttp } from '../../../src/sinks/git/streaming-http.js';
import { withGitServer } from '../../support/git-server.js';
import { assertRemoteHolds, context, expectedFiles, fsck, gitSink, store } from './git-fixture.js';

async function* once(chunk: Uint8Array): AsyncIterableIterator<Uint8Array> {
  yield chunk;
}

function answer(statusCode: number, headers: Record<string, string> = {}): GitHttpResponse {
  return {
    url: 'http://git.test/r.git/git-receive-pack',
    method: 'POST',
    statusCode,
    statusMessage: String(statusCode),
    headers,
    body: once(Buffer.from('answer')),
  };
}

/** A base client that records each request and what its body yielded, answering from `answers` in turn. */
function recordingBase(answers: GitHttpResponse[]): { base: HttpClient; seen: { request: GitHttpRequest; chunks: Uint8Array[] | 'array' | undefined }[] } {
  const seen: { request: GitHttpRequest; chunks: Uint8Array[] | 'array' | undefined }[] = [];
  return {
    seen,
    base: {
      request: async (request) => {
        const body: unknown = request.body;
        let chunks: Uint8Array[] | 'array' | undefined;
        if (Array.isArray(body)) chunks = 'array';
        else if (body) {
          chunks = [];
          for await (const chunk of request.body!) chunks.push(chunk);
        }
        seen.push({ request, chunks });
        return answers.shift() ?? answer(200);
      },
    },
  };
}

const post = (body: Uint8Array[], extra: Partial<GitHttpRequest> = {}): GitHttpRequest => ({
  url: 'http://git.test/r.git/git-receive-pack',
  method: 'POST',
  headers: { 'content-type': 'application/x-git-receive-pack-request', authorization: 'Basic eDp5' },
  body: body as unknown as AsyncIterableIterator<Uint8Array>,
  ...extra,
});

describe('git sink: streaming HTTP client', () => {
  it('GIVEN a body as an array of chunks WHEN sent THEN the base client gets those very chunks one by one, with their total as Content-Length, and redirects not followed', async () => {
    const chunks = [Buffer.from('0077abc'), new Uint8Array(70_000).fill(7), Buffer.from('PACK')];
    const { base, seen } = recordingBase([]);

    const response = await streamingHttp(base).request(post(chunks));

    assert.equal(response.statusCode, 200);
    assert.equal(seen.length, 1);
    const sent = seen[0]!;
    assert.ok(Array.isArray(sent.chunks), 'streamed, not handed over as an array to concatenate');
    assert.equal(sent.chunks.length, chunks.length);
    sent.chunks.forEach((chunk, i) => assert.equal(chunk, chunks[i], `chunk ${i} is the caller's own, not a copy`));
    assert.equal(sent.request.headers?.['content-length'], String(7 + 70_000 + 4));
    assert.equal(sent.request.headers?.authorization, 'Basic eDp5');
    assert.equal((sent.request.fetchOptions as { followRedirects?: boolean }).followRedirects, false);
  });

  it('GIVEN a request without a body (a GET) WHEN sent THEN it reaches the base client unchanged', async () => {
    const { base, seen } = recordingBase([]);
    const request: GitHttpRequest = { url: 'http://git.test/r.git/info/refs?service=git-receive-pack', method: 'GET', headers: { accept: '*/*' } };
    await streamingHttp(base).request(request);
    assert.equal(seen[0]!.request, request);
  });

  it('GIVEN a redirect answer to a streamed body WHEN sent THEN the request is sent again as it came (an array) for the base client to follow', async () => {
    const chunks = [Buffer.from('0077abc'), Buffer.from('PACK')];
    const request = post(chunks);
    const { base, seen } = recordingBase([answer(307, { location: 'http://git.test/moved.git/git-receive-pack' }), answer(200)]);

    const response = await streamingHttp(base).request(request);

    assert.equal(response.statusCode, 200);
    assert.equal(seen.length, 2);
    assert.equal(seen[1]!.request, request);
    assert.equal(seen[1]!.chunks, 'array');
  });

  it('GIVEN a caller that does not follow redirects WHEN the answer is one THEN it is returned as is', async () => {
    const { base, seen } = recordingBase([answer(302, { location: 'http://git.test/elsewhere' })]);
    const response = await streamingHttp(base).request(post([Buffer.from('x')], { fetchOptions: { followRedirects: false } }));
    assert.equal(response.statusCode, 302);
    assert.equal(seen.length, 1);
  });

  it('GIVEN a first export to git http-backend WHEN pushing THEN the pack goes out in the chunks isomorphic-git built, with a Content-Length, and the remote holds every file', () =>
    withGitServer(async (server) => {
      const pushes: { contentLength: string | undefined; bytes: number; chunks: number; largest: number }[] = [];
      const http: HttpClient = {
        request: async (request) => {
          if (!request.url.endsWith('/git-receive-pack') || !request.body) return nodeHttp.request(request);
          assert.ok(!Array.isArray(request.body), 'the node client would concatenate an array');
          const push = { contentLength: request.headers?.['content-length'], bytes: 0, chunks: 0, largest: 0 };
          pushes.push(push);
          const source = request.body;
          const counted = (async function* () {
            for await (const chunk of source) {
              push.bytes += chunk.byteLength;
              push.chunks += 1;
              push.largest = Math.max(push.largest, chunk.byteLength);
              yield chunk;
            }
          })();
          return nodeHttp.request({ ...request, body: counted });
        },
      };
      const source = await store({ cluster: 'c1' });
      const { sink } = await gitSink(server, {}, { http });

      await sink.apply(source, context());

      assert.equal(pushes.length, 1);
      const push = pushes[0]!;
      assert.equal(push.contentLength, String(push.bytes));
      assert.ok(
        push.chunks > 1 && push.largest < push.bytes,
        `the pack was sent in pieces (${push.chunks} chunks, largest ${push.largest} of ${push.bytes} bytes)`,
      );
      await assertRemoteHolds(server, await expectedFiles(source));
      await fsck(server);
    }));

  it('GIVEN a remote that redirects every request (307, to another origin) WHEN exporting THEN fetch and push follow it and the remote holds every file', () =>
    withGitServer(async (server) => {
      const target = new URL(server.url);
      const redirector = createServer((req, res) => {
        req.resume();
        res.writeHead(307, { location: `${target.origin}${(req.url ?? '/').replace('/old.git/', `${target.pathname}/`)}` });
        res.end();
      });
      await new Promise<void>((done) => redirector.listen(0, '127.0.0.1', done));
      try {
        const url = `http://127.0.0.1:${(redirector.address() as AddressInfo).port}/old.git`;
        const source = await store({ cluster: 'c1' });
        const { sink } = await gitSink({ url });

        const result = await sink.apply(source, context());

        assert.equal(result.totals.added, (await expectedFiles(source)).size);
        await assertRemoteHolds(server, await expectedFiles(source));
        assert.ok(server.requestLog.some((line) => line.startsWith('POST') && line.includes('git-receive-pack')));
      } finally {
        redirector.closeAllConnections();
        await new Promise<void>((done) => redirector.close(() => done()));
      }
    }));
});
