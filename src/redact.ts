import { unescape } from 'node:querystring';

/** Replaces every secret (a URL, a password) in a message by `***`. */
export function redact(message: string, secrets: readonly string[]): string {
  let out = message;
  for (const secret of secrets) if (secret) out = out.split(secret).join('***');
  return out;
}

/**
 * The secrets of a URL, for `redact`: its password as written in the URL and decoded (a client
 * may quote either; querystring's unescape, unlike decodeURIComponent, does not throw on a stray
 * `%`). A URL that does not parse is a secret whole: nothing tells its password apart.
 */
export function urlSecrets(url: string): string[] {
  if (!URL.canParse(url)) return [url];
  const { password } = new URL(url);
  return password === '' ? [] : [password, unescape(password)];
}
