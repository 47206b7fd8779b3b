import { resolve } from 'node:path';
import type { StoreSettings } from '../config/schema.js';
import { withFolderLock } from '../fs/folder-lock.js';
import type { Logger } from '../log.js';
import { unwritable } from './store-writer.js';

/**
 * Runs `work` holding the lock of the store `settings.dir`, waiting up to `settings.lock.wait`
 * for another run's (src/fs/folder-lock.ts). The lock is a sibling file `<dir>.lock`, not a file
 * inside the store, because a collect replaces the store folder by rename, which would take a
 * lock inside with it.
 *
 * Only collects take it, from their start until the new store is in place and open. Readers
 * (`export --from`) take none: an open store reads through the descriptors it opened, and the
 * open itself starts again when a collect swapped the folder meanwhile (src/store/collect-store.ts).
 */
export function withStoreLock<T>(settings: StoreSettings, deps: { log: Logger; signal?: AbortSignal }, work: () => Promise<T>): Promise<T> {
  const dir = resolve(settings.dir);
  const path = `${dir}.lock`;
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
    deps.signal ? { signal: deps.signal } : {},
  );
}
