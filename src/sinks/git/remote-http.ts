import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import type { GitHttpRequest, GitHttpResponse, HttpClient } from 'isomorphic-git';
import { InterruptedError, SinkError } from '../../errors.js';

/** What every request of one export to the remote shares. */
export interface RemoteRequests {
  /** The sink's name, for errors. */
  sink: string;
  /** The query of the configured URL (`access_token=...`), sent with every request and stored nowhere; '' for none. */
  query: string;
  /** How long the server may stay silent: before its answer starts, and between two parts of it. */
  timeoutMs: number;
  /** The run's signal: SIGTERM aborts the request in flight. */
  signal: AbortSignal;
}

/** A request that ended because the server stayed silent for `timeoutMs`. */
export const GIT_TIMEOUT = 'GIT_TIMEOUT';

/** Whether `error` is the timeout of a request (see remoteHttp). */
export function isRequestTimeout(error: unknown): boolean {
  return error instanceof SinkError && error.code === GIT_TIMEOUT;
}

/** A timer that aborts its signal when not restarted within `ms`; unref'd: it never keeps the process alive. */
class SilenceTimer {
  private readonly controller = new AbortController();
  private timer: NodeJS.Timeout | undefined;
  constructor(private readonly ms: number) {
    this.restart();
  }
  get signal(): AbortSignal {
    return this.controller.signal;
  }
  restart(): void {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.controller.abort(), this.ms).unref();
  }
  stop(): void {
    clearTimeout(this.timer);
  }
}

/**
 * The Git sink's requests to its remote: with the URL's query credentials, a timeout of their own,
 * and aborted by the run's signal.
 *
 * Timeout: Node's global agents end any request whose socket is idle for 5 s with "Request timed
 * out", so a server that answers after a slow pre-receive hook failed a push that had landed.
 * Requests go through a keep-alive agent without a socket timeout instead (unless `base` sets an
 * agent of its own, as for tls.caFile, which has none either), and end when the server stays
 * silent for `timeoutMs`: before its answer starts, or between two chunks of it.
 *
 * Query credentials are appended to each request's URL here, so that the mirror's `.git/config`
 * and everything isomorphic-git reports hold the URL without them.
 */
export function remoteHttp(base: HttpClient, remote: RemoteRequests): HttpClient {
  const agents = new Map<string, HttpAgent>();
  const agentFor = (url: string): HttpAgent => {
    const protocol = new URL(url).protocol;
    let agent = agents.get(protocol);
    if (!agent) agents.set(protocol, (agent = protocol === 'https:' ? new HttpsAgent({ keepAlive: true }) : new HttpAgent({ keepAlive: true })));
    return agent;
  };
  const failure = (error: unknown, silence: SilenceTimer, request: GitHttpRequest): unknown => {
    const { pathname, searchParams } = new URL(request.url);
    const endpoint = pathname.endsWith('/info/refs') ? `info/refs?service=${searchParams.get('service') ?? ''}` : pathname.slice(pathname.lastIndexOf('/') + 1);
    const what = `${request.method ?? 'GET'} ${endpoint}`;
    if (remote.signal.aborted) {
      return new InterruptedError(
        `sink "${remote.sink}": git request interrupted (${what}); a push in flight may or may not have landed, the next run fetches and sees`,
        { sink: remote.sink },
        { cause: error },
      );
    }
    if (silence.signal.aborted) {
      return new SinkError(
        remote.sink,
        `the Git server sent nothing for ${remote.timeoutMs / 1000}s (${what}); if it is only slow (a busy host, a long pre-receive hook), raise requestTimeout`,
        { timeoutMs: remote.timeoutMs },
        { cause: error, code: GIT_TIMEOUT },
      );
    }
    return error;
  };
  return {
    async request(request: GitHttpRequest): Promise<GitHttpResponse> {
      const silence = new SilenceTimer(remote.timeoutMs);
      const url = remote.query === '' ? request.url : `${request.url}${request.url.includes('?') ? '&' : '?'}${remote.query}`;
      let response: GitHttpResponse;
      try {
        response = await base.request({ ...request, url, agent: request.agent ?? agentFor(url), signal: AbortSignal.any([remote.signal, silence.signal]) });
      } catch (error) {
        silence.stop();
        throw failure(error, silence, request);
      }
      silence.restart();
      const body = response.body;
      if (!body) {
        silence.stop();
        return response;
      }
      async function* watched(): AsyncIterableIterator<Uint8Array> {
        try {
          for await (const chunk of body!) {
            silence.restart();
            yield chunk;
          }
        } catch (error) {
          throw failure(error, silence, request);
        } finally {
          silence.stop();
        }
      }
      return { ...response, body: watched() };
    },
  };
}
