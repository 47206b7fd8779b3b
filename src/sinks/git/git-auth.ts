import type { AuthCallback, AuthFailureCallback } from 'isomorphic-git';
import type { GitSinkConfig } from './config.js';
import type { SecretRef } from '../../config/fields.js';
import { readRequiredSecret } from '../../config/secret.js';
import { SinkError } from '../../errors.js';

/**
 * Credentials for the Git remote. They come from a referenced secret (an environment variable or
 * a mounted file), are read at apply time, handed to isomorphic-git only through `onAuth`, and
 * never go into a URL, an argument, a message or a log line.
 */

/** Username sent with a token when none is configured (accepted by GitHub, GitLab and Gitea). */
export const DEFAULT_GIT_USERNAME = 'x-access-token';

export interface GitCredentials {
  username: string;
  password: string;
}

/** Reads one credential. Fails with a message naming where it looked, never the value. */
function readCredential(sink: string, ref: SecretRef, env: NodeJS.ProcessEnv): Promise<string> {
  return readRequiredSecret(ref, { env }, (problem) => new SinkError(sink, `the Git credential: ${problem}`, {}, { code: 'GIT_AUTH_MISSING' }));
}

/** Reads the configured credentials (undefined when the sink has no auth). */
export async function readCredentials(config: GitSinkConfig, env: NodeJS.ProcessEnv): Promise<GitCredentials | undefined> {
  if (!config.auth) return undefined;
  const password = await readCredential(config.name, config.auth.token, env);
  const username = config.auth.username ? await readCredential(config.name, config.auth.username, env) : DEFAULT_GIT_USERNAME;
  return { username, password };
}

/** isomorphic-git callbacks: offer the credentials once; a rejection cancels instead of looping. */
export interface AuthHandlers {
  onAuth?: AuthCallback;
  onAuthFailure: AuthFailureCallback;
  /** True once the server refused the credentials (or asked for some when none are configured). */
  readonly failed: boolean;
}

export function authHandlers(credentials: GitCredentials | undefined): AuthHandlers {
  let failed = false;
  return {
    ...(credentials ? { onAuth: () => ({ username: credentials.username, password: credentials.password }) } : {}),
    onAuthFailure: () => {
      failed = true;
      return { cancel: true };
    },
    get failed() {
      return failed;
    },
  };
}
