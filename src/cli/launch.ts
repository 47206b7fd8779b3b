/**
 * The process entry of the built CLI (bin/kollect): runs the CommonJS bundle of the CLI
 * (dist/bundle/main.cjs, scripts/bundle.ts) with Node's own compile cache turned on, so that a
 * process does not parse and compile the same 700 KB of JavaScript again at every start, nor the
 * vendored packages that main.cjs requires when a run needs them (`./vendor-*.cjs`). Node keys
 * each cache by the file's path and checks it against the file's content, so a new build or
 * another checkout never runs an old cache.
 *
 * `module.enableCompileCache` came with Node 22.1: on Node 20 (development only) every run
 * compiles the bundle, as it does when the cache is off.
 *
 * Where: `KOLLECT_COMPILE_CACHE` (a folder, or `off`), else `$XDG_CACHE_HOME/kollect`, else
 * `~/.cache/kollect`. A cache is code this process runs, so it is used only in a folder that
 * belongs to this user and that no one else may write to. It only saves start-up time: a folder
 * that cannot be made or written (a read-only root filesystem) means no cache, never an error.
 */
import { mkdirSync, statSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';

interface CliModule {
  main(argv: string[]): Promise<void>;
}

/** The part of `node:module` from Node 22.1 on that @types/node 20 does not declare. */
const { enableCompileCache } = Module as { enableCompileCache?: (folder: string) => unknown };

function cacheFolder(): string | undefined {
  const setting = process.env.KOLLECT_COMPILE_CACHE;
  if (setting === 'off') return undefined;
  if (setting) return setting;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kollect');
}

/** The folder, made if missing, when it is this user's and no one else may write to it. */
function privateFolder(folder: string): boolean {
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const stat = statSync(folder);
    return stat.isDirectory() && stat.uid === process.getuid?.() && (stat.mode & 0o022) === 0;
  } catch {
    // Unwritable or unreadable (read-only root filesystem, no home): run without a cache.
    return false;
  }
}

export function launch(argv: string[]): Promise<void> {
  if (enableCompileCache) {
    const folder = cacheFolder();
    // Node reports a folder it cannot use in its return value, never by throwing: no cache then.
    if (folder !== undefined && privateFolder(folder)) enableCompileCache(folder);
  }
  const cli = createRequire(import.meta.url)('./main.cjs') as CliModule;
  return cli.main(argv);
}
