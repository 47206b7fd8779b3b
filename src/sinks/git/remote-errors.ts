import { describeSecret } from '../../config/secret.js';
import type { GitSinkConfig } from './config.js';
import { KollectError, SinkError } from '../../errors.js';
import { redact } from '../../redact.js';
import type { AuthHandlers } from './git-auth.js';
import { untrustedCertificateHint } from './git-tls.js';

/** What the remote answered a fetch or a push, read off isomorphic-git's errors, and the sink's errors for it. */

/** The remote as the sink's messages show it. */
export interface ShownRemote {
  /** The query of the configured URL ('' when none): it may hold credentials. */
  query: string;
  /** The URL with its credentials redacted. */
  shownUrl: string;
  /** What messages must never show. */
  secrets: readonly string[];
  /** The context every error of the sink carries. */
  where: Record<string, unknown>;
}

export function isAuthError(error: unknown, auth: AuthHandlers): boolean {
  if (auth.failed) return true;
  const e = error as { code?: string; data?: { statusCode?: number } };
  return e.code === 'HttpError' && (e.data?.statusCode === 401 || e.data?.statusCode === 403);
}

/** Why the server refused our ref update (isomorphic-git's GitPushError), e.g. "failed to update ref". */
export function pushRefusal(error: unknown): string | undefined {
  const e = error as { code?: string; data?: { result?: { refs?: Record<string, { ok: boolean; error?: string }> } } };
  if (e.code !== 'GitPushError') return undefined;
  const reasons = Object.values(e.data?.result?.refs ?? {}).filter((r) => !r.ok);
  return reasons.map((r) => r.error ?? 'refused').join('; ') || 'refused';
}

/**
 * What servers answer when the branch moved under a push: git receive-pack says "failed to update
 * ref" or "cannot lock ref", forges "fetch first" or "non-fast-forward". Anything else (a hook or
 * a branch protection declining) is final: retrying would be refused the same way.
 */
const LOST_RACE = /fast-forward|fetch first|failed to (update|lock) ref|cannot lock ref|stale info/i;

/** A push that lost a race: another writer moved the branch (isomorphic-git's own check, or the server's). */
export function isLostRace(error: unknown): boolean {
  if ((error as { code?: string }).code === 'PushRejectedError') return true;
  const refusal = pushRefusal(error);
  return refusal !== undefined && LOST_RACE.test(refusal);
}

/** Maps network failures to clear errors; never carries credentials (the URL and messages shown redacted). */
export function remoteError(config: GitSinkConfig, remote: ShownRemote, error: unknown, auth: AuthHandlers, step: 'fetch' | 'push'): Error {
  const { shownUrl, secrets, where } = remote;
  if (error instanceof KollectError) return error;
  if (isAuthError(error, auth)) {
    const hint = config.auth
      ? `check that the secret in ${describeSecret(config.auth.token)} holds a valid token with write access to the repository`
      : remote.query !== ''
        ? "check the credentials in the URL's query (shown as ***): a valid token with write access to the repository, or configure auth.token ({env} or {file})"
        : 'the remote requires credentials and the sink has none: configure auth.token ({env} or {file})';
    return new SinkError(config.name, `authentication to ${shownUrl} failed during ${step}: ${hint}`, where, { code: 'GIT_AUTH_FAILED' });
  }
  const refusal = pushRefusal(error);
  if (refusal !== undefined) {
    return new SinkError(
      config.name,
      `the remote refused the push to ${shownUrl} (${config.ref}): ${redact(refusal, secrets)}; check branch protection and server hooks for this account`,
      where,
      {
        cause: error,
        code: 'GIT_PUSH_REFUSED',
      },
    );
  }
  return new SinkError(
    config.name,
    `git ${step} ${shownUrl} (${config.ref}) failed: ${redact((error as Error).message, secrets)}${untrustedCertificateHint(error, config)}`,
    where,
    {
      cause: error,
      code: 'GIT_REMOTE_FAILED',
    },
  );
}
