import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Where secrets leaked: each of `texts` (an output stream, by name) and each file under `paths`
 * (files, or folders walked whole) whose content holds one of `secrets`, as `name: secret`.
 * Files are searched as bytes, so a secret in a binary file (an index, a pack) counts too.
 */
export async function leaksOf(secrets: readonly string[], texts: Record<string, string>, paths: readonly string[]): Promise<string[]> {
  const found: string[] = [];
  const search = (name: string, content: Buffer): void => {
    for (const secret of secrets) if (content.includes(secret)) found.push(`${name}: ${secret}`);
  };
  for (const [name, text] of Object.entries(texts)) search(name, Buffer.from(text));
  const walk = async (path: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(path, { withFileTypes: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOTDIR') throw error;
      search(path, await readFile(path));
      return;
    }
    for (const entry of entries) await walk(join(path, entry.name));
  };
  for (const path of paths) await walk(path);
  return found;
}
