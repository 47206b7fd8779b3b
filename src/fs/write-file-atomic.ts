import { randomBytes } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import type { WriteFileOptions } from 'node:fs';
import { dirname } from 'node:path';

/**
 * Puts `content` at `path` by writing it whole to `tmp` and renaming that over `path`: readers,
 * and a process killed half-way, see the old file or the new one, never part of one. `tmp` must
 * be on the same filesystem (rename is atomic only there); it is removed when anything fails.
 */
export async function replaceFile(path: string, tmp: string, content: string | Uint8Array, options?: WriteFileOptions): Promise<void> {
  try {
    await writeFile(tmp, content, options);
    await rename(tmp, path);
  } catch (error) {
    await rm(tmp, { force: true });
    throw error;
  }
}

/** Writes a file atomically (see replaceFile), creating its folder, with the temporary file beside it. */
export async function writeFileAtomic(path: string, content: string | Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await replaceFile(path, `${path}.tmp-${randomBytes(4).toString('hex')}`, content);
}
