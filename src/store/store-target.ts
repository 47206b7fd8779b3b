import { readdir, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { StoreDirError } from '../errors.js';
import { quoted } from '../format.js';
import { STORE_FORMAT_FAMILY, STORE_MANIFEST_FILE } from './store-manifest.js';
import { unwritable } from './store-writer.js';

/** Whether `path` is the manifest of a kollect store, of any format version (an older store is replaced after an upgrade). */
async function isStoreManifest(path: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'EISDIR') return false;
    throw error;
  }
  try {
    const format = (JSON.parse(text) as { format?: unknown } | null)?.format;
    return typeof format === 'string' && format.startsWith(STORE_FORMAT_FAMILY);
  } catch (error) {
    // Not JSON: not a manifest kollect wrote (it writes it whole, then renames it into place).
    if (error instanceof SyntaxError) return false;
    throw error;
  }
}

/**
 * Refuses a store folder that a collect must not replace: a collect replaces `dir` whole, so it
 * may only be missing, empty, or a kollect store (its manifest says so). Anything else (a typo,
 * `--store .`) would lose a user's files. Read-only: call it before any request or lock.
 */
export async function checkStoreTarget(dir: string): Promise<void> {
  const target = resolve(dir);
  const info = await stat(target).catch((error: NodeJS.ErrnoException) => {
    // Missing: a new store. A file above it (ENOTDIR) is the writer's to report, as STORE_UNWRITABLE.
    if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return undefined;
    throw unwritable(target, target, error);
  });
  if (info === undefined) return;
  const advice =
    'A collect replaces its store folder whole, so it must be missing, empty, or a kollect store: set store.dir (or --store) to such a folder ' +
    '(the default is .kollect/store). Nothing was changed';
  if (!info.isDirectory()) throw new StoreDirError(`the collect store ${quoted(target)} is a file, not a folder. ${advice}`, { dir: target });
  const entries = await readdir(target);
  if (entries.length === 0 || (await isStoreManifest(join(target, STORE_MANIFEST_FILE)))) return;
  const shown = entries
    .sort()
    .slice(0, 3)
    .map((name) => quoted(name));
  const more = entries.length > shown.length ? ` and ${entries.length - shown.length} more` : '';
  throw new StoreDirError(
    `the collect store ${quoted(target)} is a folder that is not a kollect store: it holds ${shown.join(', ')}${more}, and no ${STORE_MANIFEST_FILE} of a store. ${advice}`,
    { dir: target, entries: entries.length },
  );
}
