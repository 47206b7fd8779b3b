import { ContinueExpiredError, KollectError, KubeApiError, KubeUnreachableError } from '../errors.js';
import type { Profile } from '../rows/profiles/profile.js';
import type { ProjectedType } from '../rows/project.js';
import type { EncodedPage } from './list-rows.js';

/**
 * The messages between the main thread and a list worker (src/collect/list-worker.ts). Only plain
 * data crosses, and the big parts are transferred, not copied: a page's JSON one way, its
 * encoded lines the other. No parsed object ever crosses.
 */

/** How a type's rows are made; a worker builds the encoder once per `id`. */
export interface EncoderSpec {
  id: number;
  cluster: string;
  type: ProjectedType;
  profile: Profile;
}

/** Encode one page. */
export interface EncodeRequest {
  id: number;
  encoder: EncoderSpec;
  /** The page's JSON (transferred). */
  body: Uint8Array;
  /** The continue token the list went on with, which the page must carry. */
  continue: string;
  what: string;
}

export type EncodeResult = ({ id: number } & EncodedPage) | { id: number; error: WorkerError };

/** An error as it crosses threads. */
export interface WorkerError {
  /** The KollectError's code, or undefined for anything else (a bug). */
  code?: string;
  name: string;
  message: string;
  data?: Record<string, unknown>;
  stack?: string;
}

export function toWorkerError(error: unknown): WorkerError {
  const stack = error instanceof Error && error.stack ? { stack: error.stack } : {};
  if (error instanceof KollectError) return { code: error.code, name: error.name, message: error.message, data: error.data, ...stack };
  if (error instanceof Error) return { name: error.name, message: error.message, ...stack };
  return { name: 'Error', message: String(error) };
}

type ListErrorClass = new (message: string, data?: Record<string, unknown>) => KollectError;
/** The errors a list can end with, by code, so that the main thread treats them as it would its own. */
const LIST_ERRORS: ReadonlyMap<string, ListErrorClass> = new Map<string, ListErrorClass>([
  ['KUBE_API_ERROR', KubeApiError],
  ['KUBE_UNREACHABLE', KubeUnreachableError],
  ['CONTINUE_EXPIRED', ContinueExpiredError],
]);

/**
 * The error again, on this side: a KollectError of the same class (a page that does not parse
 * marks its type failed, as on the main thread), a plain Error for anything else (a bug, which
 * fails the run).
 */
export function fromWorkerError(error: WorkerError): Error {
  const KnownError = error.code === undefined ? undefined : (LIST_ERRORS.get(error.code) ?? KubeApiError);
  const revived = KnownError ? new KnownError(error.message, error.data ?? {}) : new Error(`list worker: ${error.message}`);
  if (error.stack) revived.stack = error.stack;
  return revived;
}
