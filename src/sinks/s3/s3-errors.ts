import { S3ServiceException } from '@aws-sdk/client-s3';
import { InterruptedError, KollectError, SinkError } from '../../errors.js';
import { quoted } from '../../format.js';
import { redact } from '../../redact.js';
import { untrustedCertificateHint } from '../git/git-tls.js';
import type { S3Connection } from './s3-client.js';

/**
 * S3's failures as kollect's errors: one code per thing a user (or the sink) does about it. Each
 * names the sink, the bucket and where it is, the key when there is one (quoted: keys hold
 * cluster names), and S3's own error code and HTTP status in `data`; never a credential.
 */

/** Another writer changed (or deleted) the object first (412 PreconditionFailed, 409 ConditionalRequestConflict, 404 on If-Match): re-read, re-plan, retry. */
export const S3_PRECONDITION_FAILED = 'S3_PRECONDITION_FAILED';
/** The store refused the credentials: a wrong key or secret, an expired token, or none found. */
export const S3_AUTH_FAILED = 'S3_AUTH_FAILED';
/** The credentials are good but lack a permission on the bucket or prefix. */
export const S3_ACCESS_DENIED = 'S3_ACCESS_DENIED';
export const S3_NO_SUCH_BUCKET = 'S3_NO_SUCH_BUCKET';
/** 5xx, throttling, timeouts, dropped connections, after the client's retries. */
export const S3_UNAVAILABLE = 'S3_UNAVAILABLE';
/** The store does not implement what was asked (501): conditional writes, multi-object delete. */
export const S3_NOT_IMPLEMENTED = 'S3_NOT_IMPLEMENTED';
/** Any other refusal by the store. */
export const S3_REQUEST_FAILED = 'S3_REQUEST_FAILED';

const AUTH_CODES = new Set([
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'AuthorizationHeaderMalformed',
]);
/** The SDK's names for a request that got no answer: its own timeouts, and Node's socket errors. */
const NETWORK_CODES = new Set(['TimeoutError', 'RequestTimeout', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENOTFOUND', 'EAI_AGAIN', 'ECONNABORTED']);

/** What was being done, for the message: `PUT clusters/a.json`, `list under fleet/`. */
export interface S3Operation {
  action: string;
  key?: string;
}

function describe(operation: S3Operation): string {
  return operation.key === undefined ? operation.action : `${operation.action} ${quoted(operation.key)}`;
}

/** The kollect error for a failed S3 request (an error that already is one passes through). */
export function s3Error(connection: S3Connection, operation: S3Operation, error: unknown, signal?: AbortSignal): KollectError {
  if (error instanceof KollectError) return error;
  const { sink, bucket, where } = connection;
  const what = `${describe(operation)} in bucket ${bucket} at ${where}`;
  const data = { bucket, endpoint: where, ...(operation.key === undefined ? {} : { key: operation.key }) };
  const fail = (code: string, message: string, extra: Record<string, unknown> = {}): SinkError =>
    new SinkError(sink, redact(message, connection.secrets), { ...data, ...extra }, { code, cause: error });

  const name = (error as Error | undefined)?.name ?? '';
  if (name === 'AbortError' || signal?.aborted) return new InterruptedError(`sink "${sink}": ${what} interrupted`, { sink, ...data }, { cause: error });
  if (name === 'CredentialsProviderError') {
    return fail(
      S3_AUTH_FAILED,
      `${what}: no credentials found (configure credentials, or provide them to the SDK's chain: environment, web identity, instance profile)`,
    );
  }
  if (error instanceof S3ServiceException) {
    const status = error.$metadata.httpStatusCode ?? 0;
    const s3 = { status, s3Code: error.name };
    const said = `${error.name}${status ? ` (HTTP ${status})` : ''}`;
    // A PUT answered 404 carried If-Match for an object someone else deleted meanwhile: a race too.
    if (status === 412 || name === 'PreconditionFailed' || name === 'ConditionalRequestConflict' || (operation.action === 'PUT' && name === 'NoSuchKey')) {
      return fail(S3_PRECONDITION_FAILED, `${what}: another writer changed it first (${said})`, s3);
    }
    if (AUTH_CODES.has(name)) {
      return fail(S3_AUTH_FAILED, `${what}: the store refused the credentials (${said}); check the access key and secret the sink uses`, s3);
    }
    if (name === 'AccessDenied' || status === 403) {
      return fail(
        S3_ACCESS_DENIED,
        `${what}: access denied (${said}); the credentials need s3:GetObject, s3:PutObject, s3:DeleteObject and s3:ListBucket on the prefix`,
        s3,
      );
    }
    if (name === 'NoSuchBucket') return fail(S3_NO_SUCH_BUCKET, `${what}: the bucket does not exist (${said})`, s3);
    if (status === 501 || name === 'NotImplemented') return fail(S3_NOT_IMPLEMENTED, `${what}: the store does not implement it (${said})`, s3);
    if (status >= 500 || name === 'SlowDown') return fail(S3_UNAVAILABLE, `${what}: the store is unavailable (${said}), after the client's retries`, s3);
    return fail(S3_REQUEST_FAILED, `${what} failed: ${said}: ${quoted(error.message)}`, s3);
  }
  const code = (error as NodeJS.ErrnoException | undefined)?.code ?? '';
  if (NETWORK_CODES.has(name) || NETWORK_CODES.has(code)) {
    return fail(S3_UNAVAILABLE, `${what}: no answer from the store (${code || name}), after the client's retries`, { s3Code: code || name });
  }
  return fail(
    S3_REQUEST_FAILED,
    `${what} failed: ${quoted((error as Error | undefined)?.message ?? String(error))}${untrustedCertificateHint(error, connection)}`,
  );
}
