import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';

/**
 * An isomorphic-git HTTP client that sends a body handed over as an array of chunks one chunk at
 * a time, with a Content-Length, instead of as one contiguous copy.
 *
 * isomorphic-git hands a push over as such an array: the pkt-lines of the ref update, then every
 * chunk of the pack it built in memory (`_push` passes `[...packstream1, ...packstream2]`). Its
 * Node client (`isomorphic-git/http/node`) turns an array into a single Buffer so as to send a
 * Content-Length: `collect()` copies every chunk into a new Uint8Array, then `Buffer.from()`
 * copies that again. A push thus held its pack three times at once, at the very end of the
 * export, where a first export's pack is largest. Streamed here, the chunks isomorphic-git
 * already holds are the only copy.
 *
 * Redirects: a streamed body cannot be replayed, so the base client is asked not to follow them
 * (`fetchOptions.followRedirects`, which the Node client honours). A redirect answer is then
 * discarded and the request sent again as it came, as an array, for the base client to follow
 * with its own rules (methods, credentials scoped to an origin): rare, and exactly as before.
 */
export function streamingHttp(base: HttpClient): HttpClient {
  return {
    async request(request: GitHttpRequest): Promise<GitHttpResponse> {
      // Typed as an async iterator, but isomorphic-git passes arrays for every POST it makes.
      const body: unknown = request.body;
      if (!Array.isArray(body)) return base.request(request);
      const chunks = body as Uint8Array[];
      const length = chunks.reduce((sum, chunk) => sum + chunk.byteLength, 0);
      const headers = Object.fromEntries(Object.entries(request.headers ?? {}).filter(([name]) => name.toLowerCase() !== 'content-length'));
      const fetchOptions = (request.fetchOptions ?? {}) as { followRedirects?: boolean };
      const response = await base.request({
        ...request,
        headers: { ...headers, 'content-length': String(length) },
        body: eachOf(chunks),
        fetchOptions: { ...fetchOptions, followRedirects: false },
      });
      if (fetchOptions.followRedirects === false || !isRedirect(response)) return response;
      await drain(response.body);
      return base.request(request);
    },
  };
}

async function* eachOf(chunks: readonly Uint8Array[]): AsyncIterableIterator<Uint8Array> {
  for (const chunk of chunks) yield chunk;
}

/** What the Node client would follow: a 3xx with a Location. */
function isRedirect(response: GitHttpResponse): boolean {
  return response.statusCode >= 300 && response.statusCode < 400 && typeof response.headers?.location === 'string';
}

async function drain(body: AsyncIterableIterator<Uint8Array> | undefined): Promise<void> {
  if (!body) return;
  for await (const _chunk of body) {
    // discarded: the redirect's own body says nothing we need
  }
}
