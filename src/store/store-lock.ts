import { resolve } from 'node:path';
import type { StoreSettings } from '../config/schema.js';
import { withFolderLock, type LockTiming } from '../fs/folder-lock.js';
import type { Logger } from '../log.js';
import { unwritable } from './store-writer.js';

/**
 * The lock of a collect store: a sibling file `<dir>.lock`, not a file inside the store, because
 * a collect replaces the store folder by rename, which would take a lock inside with it.
 */
export function storeLockPath(dir: string): string {
  return `${resolve(dir)}.lock`;
}

/**
 * Runs `work` holding the lock of the store `settings.dir`, waiting up to `settings.lock.wait`
 * for another run's (src/fs/folder-lock.ts).
 *
 * One exclusive lock, for writers and readers alike: a collect holds it from its start until its
 * new store is in place and open; `export --from` holds it only while it opens the store. Once
 * open, a reader reads through the file handles it opened (src/store/collect-store.ts), which
 * keep reading that store's files after a collect renames or removes them; so a reader never
 * needs a lock shared with other readers, and holds up a collect for an open's milliseconds.
 */
export function withStoreLock<T>(
  settings: StoreSettings,
  deps: { log: Logger; signal?: AbortSignal; timing?: LockTiming },
  work: () => Promise<T>,
): Promise<T> {
  const dir = resolve(settings.dir);
  const path = storeLockPath(dir);
  return withFolderLock(
    {
      path,
      name: 'collect store lock',
      activity: `holds the collect store ${dir}`,
      advice:
        'Runs on one store must not overlap: a collect replaces the store that the other run writes or is opening. ' +
        'Let it finish, or set store.lock.wait (such as 10m) for a run to wait for the lock',
      data: { dir, lock: path },
      waitMs: settings.lock.wait,
      unusable: (error) => unwritable(dir, path, error),
    },
    deps.log,
    work,
    { ...(deps.timing ? { timing: deps.timing } : {}), ...(deps.signal ? { signal: deps.signal } : {}) },
  );
}
