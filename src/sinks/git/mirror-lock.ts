import { join } from 'node:path';
import { LOCK_TIMING, withFolderLock, type LockTiming } from '../../fs/folder-lock.js';
import type { Logger } from '../../log.js';

/**
 * One export at a time per Git mirror folder. Two runs sharing a mirror (a manual Job beside the
 * CronJob, on a volume both mount) would otherwise fetch, write the same refs and remove each
 * other's staged files, and the later one to finish would record its payload in
 * kollect-state.json whatever the remote then held: a wrong skip on the next run. The lock's
 * rules (holder, refresh, stale takeover) are src/fs/folder-lock.ts's.
 */

export const LOCK_FILE = 'kollect.lock';

/**
 * Runs `work` holding the lock of `mirrorDir`; LockBusyError (exit 1) when another run holds it.
 * The lock is removed when `work` ends, however it ends.
 */
export async function withMirrorLock<T>(mirrorDir: string, sink: string, log: Logger, work: () => Promise<T>, timing: LockTiming = LOCK_TIMING): Promise<T> {
  return withFolderLock(
    {
      path: join(mirrorDir, LOCK_FILE),
      name: 'git mirror lock',
      activity: `is exporting through the git mirror ${mirrorDir}`,
      advice: 'Runs that share a mirror folder must not overlap (CronJob concurrencyPolicy: Forbid)',
      prefix: `sink "${sink}": `,
      data: { sink, mirrorDir },
    },
    log,
    work,
    { timing },
  );
}
