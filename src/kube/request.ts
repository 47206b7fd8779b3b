import type { ListSettings } from '../config/schema.js';
import { InterruptedError, KubeApiError, KubeUnreachableError, type KollectError } from '../errors.js';
import type { KubeClient, KubeResponse } from './client.js';

/** How hard to try one request (retries on 429, 5xx and broken connections): the config's list settings. */
export type RetryPolicy = Pick<ListSettings, 'retries' | 'timeout'>;

export interface RetryInfo {
  /** 1 for the first retry. */
  attempt: number;
  delayMs: number;
  /** `429`, `503`, or the broken connection's message. */
  reason: string;
  path: string;
}

export interface RequestDeps {
  sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  random: () => number;
  signal: AbortSignal;
  onRetry?: (retry: RetryInfo) => void;
}

const BACKOFF_BASE_MS = 250;
const BACKOFF_CAP_MS = 30_000;
/** A server asking for more than this is capped: a CronJob has a deadline. */
const RETRY_AFTER_CAP_MS = 120_000;

/** The metav1.Status body the API server sends with every error answer (when it parses). */
export interface KubeStatus {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: { retryAfterSeconds?: number };
}

export function parseStatus(response: KubeResponse): KubeStatus {
  try {
    const body = JSON.parse(response.body.toString('utf8')) as unknown;
    return body !== null && typeof body === 'object' && (body as KubeStatus).kind === 'Status' ? (body as KubeStatus) : {};
  } catch {
    // An error answer from a proxy in front of the API server is often HTML: the status code is all there is.
    return {};
  }
}

/** A KubeApiError for an answer kollect cannot use, with the server's own reason and message. */
export function statusError(what: string, response: KubeResponse, client: KubeClient): KubeApiError {
  const status = parseStatus(response);
  const reason = status.reason ?? `HTTP ${response.status}`;
  const hint =
    response.status === 401
      ? ` (the credentials of context "${client.context}" were refused; are they expired?)`
      : response.status === 404
        ? ' (is the resource still served? discovery found it)'
        : '';
  return new KubeApiError(`${what}: ${response.status} ${reason}: ${status.message ?? response.body.toString('utf8', 0, 200).trim()}${hint}`, {
    status: response.status,
    reason,
    server: client.server,
  });
}

function retryable(status: number): boolean {
  return status === 429 || (status >= 500 && status !== 501);
}

/** Delay before retry `attempt`: the server's Retry-After when it gives one, else exponential backoff with jitter. */
function retryDelay(attempt: number, response: KubeResponse | undefined, random: () => number): number {
  const header = response?.headers['retry-after'];
  const seconds = header !== undefined ? Number(header) : response && parseStatus(response).details?.retryAfterSeconds;
  if (seconds !== undefined && Number.isFinite(seconds) && seconds >= 0) {
    // Honour the server, plus a little jitter so a fleet does not come back in the same millisecond.
    return Math.min(seconds * 1000, RETRY_AFTER_CAP_MS) + Math.floor(random() * BACKOFF_BASE_MS);
  }
  const ceiling = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** (attempt - 1));
  return Math.floor(ceiling / 2 + (random() * ceiling) / 2);
}

/**
 * GETs `path`, retrying 429, 5xx and broken connections up to `policy.retries` times with
 * backoff; any other answer (2xx, 4xx) is the caller's to read. When the retries are spent the
 * last failure escapes as a KubeApiError or KubeUnreachableError.
 */
export async function getWithRetry(client: KubeClient, path: string, accept: string, policy: RetryPolicy, deps: RequestDeps): Promise<KubeResponse> {
  for (let attempt = 0; ; attempt++) {
    let response: KubeResponse | undefined;
    let failure: KollectError;
    try {
      response = await client.get(path, { accept, timeoutMs: policy.timeout, signal: deps.signal });
      if (!retryable(response.status)) return response;
      failure = statusError(`GET ${path}`, response, client);
    } catch (error) {
      // An aborted run (SIGTERM) is not a broken connection: nothing to retry, nothing to blame.
      if (deps.signal.aborted) throw interrupted(path, error);
      if (!(error instanceof KubeUnreachableError)) throw error;
      failure = error;
    }
    if (attempt >= policy.retries) {
      failure.message += ` (gave up after ${attempt + 1} attempts)`;
      throw failure;
    }
    const delayMs = retryDelay(attempt + 1, response, deps.random);
    deps.onRetry?.({ attempt: attempt + 1, delayMs, reason: response ? String(response.status) : failure.message, path });
    await deps.sleep(delayMs, deps.signal).catch((error: unknown) => {
      throw deps.signal.aborted ? interrupted(path, error) : error;
    });
  }
}

function interrupted(path: string, cause: unknown): InterruptedError {
  return new InterruptedError(`interrupted while requesting ${path}`, { path }, { cause });
}
