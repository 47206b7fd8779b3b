/**
 * Typed errors, after isomorphic-git's `src/errors/`: each kind of failure is one class with a
 * stable `code` that tests and scripts match on, a `data` payload with the context a user needs,
 * and the process exit code it maps to. Only `src/cli/main.ts` turns them into an exit.
 */

/** Exit codes shared by every command. */
export const ExitCode = {
  ok: 0,
  /** A run failed: a sink, the API, a shard over the limit in shard-report. */
  failed: 1,
  /** Usage or configuration error: nothing was touched. */
  usage: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export abstract class KollectError extends Error {
  /** Stable identifier of the kind of failure, e.g. `CONFIG_INVALID`. */
  abstract readonly code: string;
  /** Exit code the CLI ends with when this error reaches it. */
  readonly exitCode: ExitCode = ExitCode.failed;

  constructor(
    message: string,
    /** Context a user or a script can act on (which field, sink, resource type, shard). */
    readonly data: Record<string, unknown> = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = new.target.name;
  }

  toJSON(): Record<string, unknown> {
    return { code: this.code, message: this.message, ...this.data };
  }
}

/** One problem found in a configuration file or in flags. */
export interface ConfigIssue {
  /** Dotted path to the field, e.g. `sinks[1].pathTemplate`. Empty for the document itself. */
  path: string;
  message: string;
}

/** The configuration does not validate. Raised before any cluster or sink is touched. */
export class ConfigError extends KollectError {
  readonly code = 'CONFIG_INVALID';
  override readonly exitCode = ExitCode.usage;
  constructor(
    readonly file: string | undefined,
    readonly issues: ConfigIssue[],
  ) {
    const where = file ? `${file}: ` : '';
    const lines = issues.map((i) => `  ${i.path || '(root)'}: ${i.message}`);
    // A flag that names nothing in a valid file (`--sink nope`) is not the file's fault.
    const what = issues.length > 0 && issues.every((i) => i.path.startsWith('--')) ? 'a flag does not match the configuration' : 'invalid configuration';
    super(`${where}${what}\n${lines.join('\n')}`, { file, issues });
  }
}

/** Bad flags or arguments. */
export class UsageError extends KollectError {
  readonly code = 'USAGE';
  override readonly exitCode = ExitCode.usage;
}

/** No usable kubeconfig, context or in-cluster service account. */
export class KubeConfigError extends KollectError {
  readonly code = 'KUBECONFIG_INVALID';
  override readonly exitCode = ExitCode.usage;
}

/** A configured resource type is not served by the API server (checked by discovery). */
export class ResourceNotServedError extends KollectError {
  readonly code = 'RESOURCE_NOT_SERVED';
}

/** A list call failed for good (after retries), or the API server is unreachable. */
export class KubeApiError extends KollectError {
  readonly code = 'KUBE_API_ERROR';
}

/**
 * The API server could not be reached or the connection broke (refused, reset, timed out, a body
 * cut short). The pager retries these; the error escapes only when the retries are spent.
 */
export class KubeUnreachableError extends KollectError {
  readonly code = 'KUBE_UNREACHABLE';
}

/**
 * A continue token expired (HTTP 410 Gone, reason Expired). The pager handles it by relisting
 * the type; it only escapes when the relist budget is spent.
 */
export class ContinueExpiredError extends KollectError {
  readonly code = 'CONTINUE_EXPIRED';
}

/** The collect store on disk is missing, truncated, of another version or not a store at all. */
export class StoreError extends KollectError {
  readonly code = 'STORE_INVALID';
}

/**
 * The collect store cannot be written: its folder or the folder above it (where the new store is
 * written before it replaces the old one) is read-only, missing permissions, a mount point, or
 * full. `data.dir` is the store, `data.path` what failed.
 */
export class StoreWriteError extends KollectError {
  readonly code = 'STORE_UNWRITABLE';
}

/** A sink failed to plan or apply. `data.sink` names it. */
export class SinkError extends KollectError {
  readonly code: string;
  constructor(
    readonly sink: string,
    message: string,
    data: Record<string, unknown> = {},
    options?: { cause?: unknown; code?: string },
  ) {
    super(`sink "${sink}": ${message}`, { sink, ...data }, options);
    this.code = options?.code ?? 'SINK_FAILED';
  }
}

/** Another run of the same cluster holds the export lock. */
export class LockBusyError extends KollectError {
  readonly code = 'LOCK_BUSY';
}

/**
 * Metrics could not be written to the textfile or pushed to the Pushgateway. The run's own
 * outcome stands (its result is still printed); the run then exits 1, because its alerting
 * signal was lost. `data.target` is `file` or `pushgateway`.
 */
export class MetricsPublishError extends KollectError {
  readonly code = 'METRICS_PUBLISH_FAILED';
}

/** The run was stopped by a signal (SIGTERM from a CronJob deadline, SIGINT). */
export class InterruptedError extends KollectError {
  readonly code = 'INTERRUPTED';
}

/** Anything that is not a KollectError: a bug, reported as such. */
export class InternalError extends KollectError {
  readonly code = 'INTERNAL';
  constructor(cause: unknown) {
    const detail = cause instanceof Error ? cause.message : String(cause);
    super(`internal error: ${detail}`, {}, { cause });
  }
}

export function toKollectError(error: unknown): KollectError {
  return error instanceof KollectError ? error : new InternalError(error);
}

/**
 * `store.dir` (or `--store`) names a folder that holds something other than a collect store, or a
 * file. A collect replaces its store folder whole, so it refuses to start (exit 2) and leaves the
 * folder as it is. `data.dir` is the folder.
 */
export class StoreDirError extends KollectError {
  readonly code = 'STORE_DIR_NOT_A_STORE';
  override readonly exitCode = ExitCode.usage;
}

/**
 * The history a `kollect changes` question needs is not in the database: the changes table does
 * not exist (history was never enabled), or `--as-of` asks for a time before the cluster's history
 * starts. `data.reason` is `not-enabled` or `too-early`; `data.table` the changes table.
 */
export class HistoryUnavailableError extends KollectError {
  readonly code = 'HISTORY_UNAVAILABLE';
}
