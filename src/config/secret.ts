import { readTextFileOrReason } from '../fs/read-text-file.js';
import type { SecretRef } from './fields.js';

/** Where secrets are read from; tests pass their own. */
export interface SecretDeps {
  /** Environment for `{env: NAME}` references (default process.env). */
  env?: NodeJS.ProcessEnv;
  /** Reads `{file: PATH}` references (default: a regular file's text, never a pipe's or a device's). */
  readFile?: (path: string) => Promise<string>;
}

/** Where a secret is read from, for messages: never its value. */
export function describeSecret(ref: SecretRef): string {
  return 'env' in ref ? `environment variable ${ref.env}` : `file ${ref.file}`;
}

/**
 * A referenced secret's value, trimmed: '' when the variable is unset or the file is empty. A
 * file that cannot be read, or is no regular file (a named pipe would block the run), rejects
 * with the reason as its message. Callers word the failure for their sink;
 * the value itself never goes into a message or a log line.
 */
export async function readSecret(ref: SecretRef, deps: SecretDeps = {}): Promise<string> {
  if ('env' in ref) return ((deps.env ?? process.env)[ref.env] ?? '').trim();
  return (await (deps.readFile ?? readTextFileOrReason)(ref.file)).trim();
}

/**
 * A referenced secret that must have a value. A file that cannot be read, an unset variable or
 * an empty value throws `fail(problem)`, where `problem` says where kollect looked (never the
 * value); the caller words it for its sink and field.
 */
export async function readRequiredSecret(ref: SecretRef, deps: SecretDeps, fail: (problem: string, cause?: unknown) => Error): Promise<string> {
  let value: string;
  try {
    value = await readSecret(ref, deps);
  } catch (error) {
    throw fail(`cannot read ${describeSecret(ref)}: ${(error as Error).message}`, error);
  }
  if (!value) throw fail(`${describeSecret(ref)} is missing or empty`);
  return value;
}
