import type { ResourceType } from './resources.js';

/**
 * metav1.Status bodies, worded as kube-apiserver words them (k8s.io/apimachinery/pkg/api/errors),
 * so that a client's handling of each failure is exercised against the real text and reason.
 */

export interface Status {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: { name?: string; group?: string; kind?: string; causes?: Array<{ message: string }>; retryAfterSeconds?: number };
  code: number;
}

export function status(code: number, reason: string, message: string, details?: Status['details']): Status {
  return { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, ...(details ? { details } : {}), code };
}

/** The answer to a continue token older than the oldest revision etcd still holds (the real text, word for word). */
export const EXPIRED_MESSAGE =
  'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.';

/** The identity the simulated authorizer names in a 403. */
const USER = 'system:serviceaccount:kube-sim:client';

/** What a request was about, for the wording of its failures. */
export interface RequestSubject {
  verb: 'get' | 'list';
  path: string;
  type?: ResourceType;
  namespace?: string;
  name?: string;
  /** The request carried a continue token. */
  continued?: boolean;
}

function typeDetails(type: ResourceType, name?: string): NonNullable<Status['details']> {
  return { ...(name !== undefined ? { name } : {}), ...(type.group ? { group: type.group } : {}), kind: type.resource };
}

export function notFound(subject: RequestSubject): Status {
  const { type, name } = subject;
  if (!type || name === undefined) return status(404, 'NotFound', 'the server could not find the requested resource', {});
  return status(404, 'NotFound', `${type.group ? `${type.resource}.${type.group}` : type.resource} "${name}" not found`, typeDetails(type, name));
}

export function forbidden(subject: RequestSubject): Status {
  const { type } = subject;
  if (!type) return status(403, 'Forbidden', `forbidden: User "${USER}" cannot get path "${subject.path}"`, {});
  const what = type.group ? `${type.resource}.${type.group}` : type.resource;
  const scope = subject.namespace !== undefined ? `in the namespace "${subject.namespace}"` : 'at the cluster scope';
  return status(
    403,
    'Forbidden',
    `${what}${subject.name !== undefined ? ` "${subject.name}"` : ''} is forbidden: User "${USER}" cannot ${subject.verb} resource "${type.resource}" in API group "${type.group}" ${scope}`,
    typeDetails(type, subject.name),
  );
}

/**
 * The Status for an HTTP status code a fault injects: what the real server sends with that code.
 * 429 always carries details.retryAfterSeconds (1 unless given), any other code when given.
 */
export function statusFor(code: number, subject: RequestSubject, retryAfterSeconds?: number): Status {
  const body = baseStatus(code, subject);
  const retry = code === 429 ? (retryAfterSeconds ?? 1) : retryAfterSeconds;
  if (retry !== undefined) body.details = { ...body.details, retryAfterSeconds: retry };
  return body;
}

function baseStatus(code: number, subject: RequestSubject): Status {
  switch (code) {
    case 400:
      return status(400, 'BadRequest', 'the server rejected our request for an unknown reason');
    case 401:
      return status(401, 'Unauthorized', 'Unauthorized');
    case 403:
      return forbidden(subject);
    case 404:
      return notFound(subject);
    case 410:
      // On a continue request a 410 means the token expired; elsewhere, a too old resourceVersion.
      return subject.continued ? status(410, 'Expired', EXPIRED_MESSAGE) : status(410, 'Expired', 'too old resource version: 1 (2)');
    case 429:
      return status(429, 'TooManyRequests', 'Too many requests, please try again later.');
    case 500:
      return status(500, 'InternalError', 'Internal error occurred: kube-sim injected fault', { causes: [{ message: 'kube-sim injected fault' }] });
    case 503:
      return status(503, 'ServiceUnavailable', 'the server is currently unable to handle the request');
    case 504:
      return status(504, 'Timeout', 'the server was unable to return a response in the time allotted, but may still be processing the request');
    default:
      return status(code, 'Unknown', `the server responded with the status code ${code} but did not return more information`);
  }
}
