import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { InterruptedError, KollectError, LockBusyError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * One kollect run at a time on a folder that runs may share: the Git mirror, the collect store.
 *
 * The lock is a file created exclusively (O_EXCL), naming its holder. The holder touches it
 * every 10 s; a run that died (OOM-killed, evicted: it never releases) leaves a lock that goes
 * stale after 60 s without a touch, and the next run takes it over with a warning. A pid cannot
 * tell: the next run is usually another pod on another node.
 */

/** How often the holder touches its lock, how long untouched makes a lock a dead run's, and how often a waiting run looks again. */
export interface LockTiming {
  refreshMs: number;
  staleMs: number;
  pollMs: number;
}
export const LOCK_TIMING: LockTiming = { refreshMs: 10_000, staleMs: 60_000, pollMs: 1_000 };

/** A lock file and how its messages speak of it. */
export interface FolderLock {
  /** The lock file. Its folder is created when missing. */
  path: string;
  /** The lock's name in log lines: `git mirror lock`. */
  name: string;
  /** What the holder does, as the busy message says it: `is exporting through the git mirror /m`. */
  activity: string;
  /** What to do about a busy lock: the busy message's second sentence. */
  advice: string;
  /** Starts every message (`sink "audit": `). */
  prefix?: string;
  /** Context of the log lines and of the LockBusyError's data. */
  data: Record<string, unknown>;
  /** How long to wait for the holder to release it; 0 refuses at once. */
  waitMs?: number;
  /** The typed error for a lock file that cannot be created (a read-only or full volume, a file where its folder goes); by default the error as it is. */
  unusable?: (error: unknown) => unknown;
}

interface Holder {
  pid: number;
  host: string;
  since: string;
  token: string;
}

async function readHolder(path: string): Promise<Partial<Holder> | undefined> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as Partial<Holder>;
  } catch (error) {
    // Gone meanwhile (released), or cut short by a crash right after it was created.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** Creates the lock file; false when it exists. */
async function create(path: string, holder: Holder): Promise<boolean> {
  try {
    await writeFile(path, `${JSON.stringify(holder)}\n`, { flag: 'wx' });
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
}

/** How long ago the lock at `path` was last touched, or undefined when it is gone. */
async function ageMs(path: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/** The holder as a message names it. */
function describeHolder(other: Partial<Holder> | undefined): string {
  return other?.pid !== undefined ? `pid ${other.pid} on host ${other.host}, since ${other.since}` : 'its holder unknown';
}

interface LockOptions {
  timing?: LockTiming;
  /** Ends a wait for the lock (SIGTERM). */
  signal?: AbortSignal;
}

/** Creates the lock file for `holder`, waiting up to `lock.waitMs` for another holder's to go. */
async function acquire(lock: FolderLock, holder: Holder, log: Logger, timing: LockTiming, signal: AbortSignal | undefined): Promise<void> {
  const { path, prefix = '' } = lock;
  await mkdir(dirname(path), { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    // A file where the folder goes: the lock's create fails next, with ENOTDIR on the lock's own path.
    if (error.code !== 'EEXIST') throw error;
  });
  const started = Date.now();
  const deadline = started + (lock.waitMs ?? 0);
  let waiting = false;
  while (!(await create(path, holder))) {
    const age = await ageMs(path);
    // Released between our try and our look: try again.
    if (age === undefined) continue;
    const other = await readHolder(path);
    if (age >= timing.staleMs) {
      log.warn(`${lock.name} left by a run that stopped: taking it over`, { ...lock.data, holder: other ?? null, ageMs: Math.round(age) });
      // Exclusive again at the next create. Two runs that judge the same dead lock stale within
      // the same moment can still both get through (the later one's rm removes the earlier one's
      // new lock): the lock keeps overlapping runs apart, it does not arbitrate a tie after a crash.
      await rm(path, { force: true });
      continue;
    }
    const left = deadline - Date.now();
    if (left <= 0) {
      const waited = waiting ? ` (waited ${Math.round((Date.now() - started) / 1000)} s)` : '';
      throw new LockBusyError(
        `${prefix}another kollect run (${describeHolder(other)}) ${lock.activity}${waited}. ${lock.advice}; ` +
          `a lock left by a run that died is taken over once it is ${timing.staleMs / 1000} s old (${path})`,
        { ...lock.data, holder: other ?? null },
      );
    }
    if (!waiting)
      log.info(`${prefix}another kollect run (${describeHolder(other)}) ${lock.activity}: waiting up to ${Math.ceil(left / 1000)} s for it`, {
        ...lock.data,
        holder: other ?? null,
      });
    waiting = true;
    try {
      await sleep(Math.min(timing.pollMs, left), undefined, signal ? { signal } : {});
    } catch (error) {
      if (signal?.aborted) throw new InterruptedError(`${prefix}stopped while waiting for the ${lock.name}`, lock.data, { cause: error });
      throw error;
    }
  }
}

/**
 * Runs `work` holding `lock`. When another run holds it, waits up to `lock.waitMs` for it, then
 * fails with LockBusyError (exit 1); SIGTERM (`options.signal`) ends the wait with
 * InterruptedError. The lock is removed when `work` ends, however it ends.
 */
export async function withFolderLock<T>(lock: FolderLock, log: Logger, work: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const { path } = lock;
  const timing = options.timing ?? LOCK_TIMING;
  const holder: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  await acquire(lock, holder, log, timing, options.signal).catch((error: unknown) => {
    // A file system error says where the lock lives is unusable; LOCK_BUSY and INTERRUPTED stay as they are.
    const fileSystemError = (error as NodeJS.ErrnoException | undefined)?.code !== undefined && !(error instanceof KollectError);
    throw lock.unusable && fileSystemError ? lock.unusable(error) : error;
  });
  const refresh = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch((error: unknown) => log.warn(`could not refresh the ${lock.name}`, { ...lock.data, path, message: (error as Error).message }));
  }, timing.refreshMs);
  refresh.unref();
  try {
    return await work();
  } finally {
    clearInterval(refresh);
    // Only our own: a run stalled past staleMs may have lost the lock to another.
    if ((await readHolder(path))?.token === holder.token) await rm(path, { force: true });
  }
}
