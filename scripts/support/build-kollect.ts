import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

/**
 * kollect as it ships: the JavaScript that `npm run build` compiles into dist/ (and bundles into
 * dist/bundle/ for the CLI). The benchmarks measure that, never the TypeScript source through tsx:
 * as the built CLI (bin/kollect, the bundle) in a process of its own, or as modules of dist/
 * imported by a benchmark's child process (whose list workers then start from dist/ too: compiled
 * JavaScript as in production, only not bundled). The scripts themselves run under tsx.
 */

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DIST = join(ROOT, 'dist');

/** The built CLI, as a CronJob runs it: `node KOLLECT ...args` (bin/kollect imports dist/bundle/main.js). */
export const KOLLECT = join(ROOT, 'bin', 'kollect');

/**
 * Runs `npm run build`, every time, before anything is measured: tsc takes a few seconds, and a
 * check of modification times against src/ misses changes outside it (tsconfig, a dependency)
 * and accepts the dist/ of a build that failed (tsc emits despite type errors). Fails when the
 * build fails. Its output goes to stderr, so that stdout carries only the benchmark's results.
 * Call it once, in the parent process, before the first child starts.
 */
export function buildKollect(): void {
  execFileSync('npm', ['run', 'build'], { cwd: ROOT, stdio: ['ignore', 2, 2] });
}

/**
 * A module of the built kollect, by its path below dist/, typed as its source:
 * `await compiled<typeof import('../src/store/collect-store.js')>('store/collect-store.js')`.
 */
export async function compiled<T>(path: string): Promise<T> {
  return (await import(pathToFileURL(join(DIST, path)).href)) as T;
}
