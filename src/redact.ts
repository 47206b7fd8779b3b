import { unescape } from 'node:querystring';

/**
 * Credentials in URLs. A URL may carry them in its userinfo (`https://user:password@host`) or in
 * its query (`?access_token=`, `?private_token=`, a signed URL's `X-Amz-Signature=`): kollect
 * treats the password and the value of every query parameter as secret, whatever its name, since
 * no list of names is complete. A user name alone grants nothing and stays visible.
 */

const HIDDEN = '***';

/** Replaces every secret (a URL, a password) in a message by `***`. */
export function redact(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) if (secret) out = out.split(secret).join(HIDDEN);
  return out;
}

/**
 * The secrets of a URL, for `redact`: its password and the value of each query parameter (or of
 * those that `secretParameter` names, where the URL's scheme says which parameters are secret), as
 * written in the URL and decoded (a client may quote either; querystring's unescape, unlike
 * decodeURIComponent, does not throw on a stray `%`). A URL that does not parse is a secret
 * whole: nothing tells its credentials apart.
 */
export function urlSecrets(url: string, secretParameter: (name: string) => boolean = () => true): string[] {
  if (!URL.canParse(url)) return [url];
  const secrets = new Set<string>();
  const { password, search } = new URL(url);
  if (password !== '') secrets.add(password).add(unescape(password));
  for (const [name, value] of queryParameters(search.slice(1))) {
    if (secretParameter(unescape(name ?? ''))) secrets.add(value).add(unescape(value.replaceAll('+', ' ')));
  }
  // A value of a character or two (`?v=2`) would blank that text out of every message; no credential is that short.
  return [...secrets].filter((secret) => secret.length >= 3);
}

/** The names and values of a query (`a=1&b`, without `?`) as written; a parameter without `=` has no name, only a value. */
function queryParameters(query: string): Array<[name: string | undefined, value: string]> {
  if (query === '') return [];
  return query.split('&').map((pair) => (pair.includes('=') ? [pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1)] : [undefined, pair]));
}

/**
 * The URL as it may be shown (a message, a log line, an error's data): its password, every query
 * value and any fragment replaced by `***`, the rest as written. A URL that does not parse shows
 * as `***`.
 */
export function redactUrl(url: string): string {
  if (!URL.canParse(url)) return HIDDEN;
  const { password } = new URL(url);
  const { url: withoutQuery, query } = splitQuery(url);
  const base = password === '' ? withoutQuery : withoutQuery.replace(/^([^:/?#]+:\/\/[^/?#@]*?:)[^/?#@]*@/, `$1${HIDDEN}@`);
  const shown = queryParameters(query).map(([name, value]) => `${name === undefined ? '' : `${name}=`}${value === '' ? '' : HIDDEN}`);
  return `${base}${query === '' ? '' : `?${shown.join('&')}`}${url.includes('#') ? `#${HIDDEN}` : ''}`;
}

/**
 * A URL split into what may be stored and what must be sent with each request only: `url`
 * without its query (nor fragment), and the query (`access_token=...`, without `?`; '' when none).
 */
export function splitQuery(url: string): { url: string; query: string } {
  const end = url.includes('#') ? url.indexOf('#') : url.length;
  const queryAt = url.indexOf('?');
  if (queryAt < 0 || queryAt > end) return { url: url.slice(0, end), query: '' };
  return { url: url.slice(0, queryAt), query: url.slice(queryAt + 1, end) };
}
