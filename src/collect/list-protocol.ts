import { KollectError, KubeApiError } from '../errors.js';
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
  /** list.fastParse: the fast way to parse pages, or JSON.parse of each whole. */
  fastParse: boolean;
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

/**
 * The error again, on this side. A worker only parses and encodes pages, so the one KollectError
 * it raises is KubeApiError (a page that does not parse), which marks its type failed as on the
 * main thread; anything else is a bug and comes back as a plain Error, which fails the run.
 */
export function fromWorkerError(error: WorkerError): Error {
  const revived = error.code === undefined ? new Error(`list worker: ${error.message}`) : new KubeApiError(error.message, error.data ?? {});
  if (error.stack) revived.stack = error.stack;
  return revived;
}
