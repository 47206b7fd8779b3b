import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** What a user is told about a path that cannot be read as a file, by errno code. */
const REASONS: Readonly<Record<string, string>> = {
  ENOENT: 'file not found',
  EACCES: 'permission denied: the user kollect runs as may not read it',
  EPERM: 'permission denied: the user kollect runs as may not read it',
  EISDIR: 'is a folder, not a file',
  ELOOP: 'a loop of symbolic links',
  ENOTDIR: 'a part of the path is not a folder',
};

/** Why a path that opened is no regular file, or undefined when it is one. */
function notARegularFile(stats: { isFile(): boolean; isDirectory(): boolean; isFIFO(): boolean; isSocket(): boolean }): string | undefined {
  if (stats.isFile()) return undefined;
  if (stats.isDirectory()) return REASONS.EISDIR;
  if (stats.isFIFO()) return 'is a named pipe (FIFO), not a regular file';
  if (stats.isSocket()) return 'is a socket, not a regular file';
  return 'is a device, not a regular file';
}

/**
 * The UTF-8 text of a regular file. Anything else fails with `failure(reason)`, a sentence a
 * user can act on: a folder, a named pipe (which would block a read until a writer comes), a
 * device (/dev/zero never ends), a file that is missing or not readable.
 */
export async function readTextFile(path: string, failure: (reason: string) => Error): Promise<string> {
  let handle;
  try {
    // O_NONBLOCK: opening a named pipe for reading otherwise waits for a writer. The type is then
    // checked on the open file itself, so a file swapped in after a stat cannot slip through.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    throw failure(fileErrorReason(error));
  }
  let reason: string | undefined;
  try {
    reason = notARegularFile(await handle.stat());
    if (reason === undefined) return await handle.readFile('utf8');
  } catch (error) {
    reason = fileErrorReason(error);
  } finally {
    await handle.close();
  }
  throw failure(reason);
}

/** readTextFile, failing with an Error whose message is the reason: for callers that word the failure themselves. */
export function readTextFileOrReason(path: string): Promise<string> {
  return readTextFile(path, (reason) => new Error(reason));
}

/** Why a file system call on a path failed, as a user is told (see REASONS), else the system's message. */
export function fileErrorReason(error: unknown): string {
  const { code, message } = error as NodeJS.ErrnoException;
  return (code !== undefined ? REASONS[code] : undefined) ?? message;
}
