/**
 * Continue tokens as kube-apiserver makes them (k8s.io/apiserver/pkg/storage/continue.go):
 * unpadded base64url of `{"v":"meta.k8s.io/v1","rv":<list revision>,"start":"<last key>\u0000"}`,
 * the start key relative to the list's prefix. Clients must treat them as opaque; the simulator
 * adds two fields the real server does not need: the page number the token leads to (faults are
 * injected per page) and when the list began (the server's stand-in for etcd compaction).
 */

export interface ContinueToken {
  /** The revision the list is a snapshot of. */
  rv: number;
  /** The key to continue from: the last key served followed by "\u0000", so that it sorts right after it. */
  start: string;
  /** The 1-based page this token asks for (2 for the token of the first page). */
  page: number;
  /** When the list's first page was served (ms since the epoch). */
  listStarted: number;
}

const VERSION = 'meta.k8s.io/v1';

export function encodeContinue(token: ContinueToken): string {
  return Buffer.from(JSON.stringify({ v: VERSION, rv: token.rv, start: token.start, page: token.page, listStarted: token.listStarted })).toString('base64url');
}

/**
 * Decodes a token, or returns the reason it is not valid, worded as the real server's errors
 * (which it prefixes with "invalid continue token: ").
 */
export function decodeContinue(text: string): ContinueToken | { invalid: string } {
  // Node's decoder skips characters outside the alphabet; the real (Go) decoder rejects them.
  if (!/^[A-Za-z0-9_-]*$/.test(text)) return { invalid: 'continue key is not valid: illegal base64 data' };
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch (error) {
    return { invalid: `continue key is not valid: ${(error as Error).message}` };
  }
  const token = (parsed ?? {}) as { v?: unknown; rv?: unknown; start?: unknown; page?: unknown; listStarted?: unknown };
  if (token.v !== VERSION) return { invalid: `continue key is not valid: server does not recognize this encoded version ${String(token.v ?? '')}` };
  if (typeof token.rv !== 'number' || !Number.isInteger(token.rv) || token.rv <= 0)
    return { invalid: 'continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)' };
  if (typeof token.start !== 'string' || token.start === '') return { invalid: 'continue key is not valid: encoded start key empty (version meta.k8s.io/v1)' };
  // A token in the real server's shape, without the simulator's fields, is still accepted.
  const page = typeof token.page === 'number' && Number.isInteger(token.page) && token.page >= 2 ? token.page : 2;
  const listStarted = typeof token.listStarted === 'number' ? token.listStarted : Date.now();
  return { rv: token.rv, start: token.start, page, listStarted };
}
