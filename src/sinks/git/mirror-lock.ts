import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { LockBusyError } from '../../errors.js';
import type { Logger } from '../../log.js';

/**
 * One export at a time per Git mirror folder. Two runs sharing a mirror (a manual Job beside the
 * CronJob, on a volume both mount) would otherwise fetch, write the same refs and remove each
 * other's staged files, and the later one to finish would record its payload in
 * kollect-state.json whatever the remote then held: a wrong skip on the next run.
 *
 * The lock is a file created exclusively (O_EXCL), naming its holder. The holder touches it
 * every 10 s; a run that died (OOM-killed, evicted: it never releases) leaves a lock that goes
 * stale after 60 s without a touch, and the next run takes it over with a warning. A pid cannot
 * tell: the next run is usually another pod on another node.
 */

export const LOCK_FILE = 'kollect.lock';

/** How often the holder touches its lock, and how long untouched makes a lock a dead run's. */
export interface LockTiming {
  refreshMs: number;
  staleMs: number;
}
const TIMING: LockTiming = { refreshMs: 10_000, staleMs: 60_000 };

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

/**
 * Runs `work` holding the lock of `mirrorDir`; LockBusyError (exit 1) when another run holds it.
 * The lock is removed when `work` ends, however it ends.
 */
export async function withMirrorLock<T>(mirrorDir: string, sink: string, log: Logger, work: () => Promise<T>, timing: LockTiming = TIMING): Promise<T> {
  await mkdir(mirrorDir, { recursive: true });
  const path = join(mirrorDir, LOCK_FILE);
  const holder: Holder = { pid: process.pid, host: hostname(), since: new Date().toISOString(), token: randomBytes(8).toString('hex') };
  if (!(await create(path, holder))) {
    const age = await ageMs(path);
    // Released between our try and our look: try again.
    if (age === undefined) return withMirrorLock(mirrorDir, sink, log, work, timing);
    const other = await readHolder(path);
    if (age < timing.staleMs) {
      const who = other?.pid !== undefined ? `pid ${other.pid} on host ${other.host}, since ${other.since}` : 'its holder unknown';
      throw new LockBusyError(
        `sink "${sink}": another kollect run (${who}) is exporting through the git mirror ${mirrorDir}. Runs that share a mirror folder must not overlap ` +
          `(CronJob concurrencyPolicy: Forbid); a lock left by a run that died is taken over once it is ${timing.staleMs / 1000} s old (${path})`,
        { sink, mirrorDir, holder: other ?? null },
      );
    }
    log.warn('git mirror lock left by a run that stopped: taking it over', { sink, mirrorDir, holder: other ?? null, ageMs: Math.round(age) });
    await rm(path, { force: true });
    // Exclusive again. Two runs that judge the same dead lock stale within the same moment can
    // still both get through (the later one's rm removes the earlier one's new lock): the lock
    // keeps overlapping runs apart, it does not arbitrate a tie after a crash.
    if (!(await create(path, holder))) return withMirrorLock(mirrorDir, sink, log, work, timing);
  }
  const refresh = setInterval(() => {
    const now = new Date();
    utimes(path, now, now).catch((error: unknown) => log.warn('could not refresh the git mirror lock', { sink, path, message: (error as Error).message }));
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
