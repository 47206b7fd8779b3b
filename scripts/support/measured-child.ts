import { spawn, type StdioOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { KOLLECT_CHILD_ENV } from '../../test/support/cli.js';
import { peakRssKiB } from './peak-rss.js';

/**
 * The child processes of the benchmarks, so that each measured case has a peak RSS of its own.
 * Two kinds: `measuredChild` runs a program (the built CLI) and measures it from outside;
 * `scriptChild` runs a benchmark script again as one of its own cases, which measures itself and
 * hands its result back with `writeResult` (one JSON line on stdout, the last one).
 */

/**
 * Preloaded into a measured process: on exit (kollect's main() ends with process.exit) it
 * writes the process's peak RSS in KiB (peakRssKiB, its source inlined), how long it ran (ms
 * from its start) and the CPU time it used (every thread, user + system, start-up included) to
 * file descriptor 3, which the parent reads. The process is otherwise exactly what a user runs.
 */
const PRELOAD = `data:text/javascript,${encodeURIComponent(
  `import { readFileSync, writeSync } from 'node:fs'; ${peakRssKiB.toString()}; process.on('exit', () => { const u = process.resourceUsage(); writeSync(3, JSON.stringify({ maxRssKiB: peakRssKiB(), ms: performance.now(), cpuMs: (u.userCPUTime + u.systemCPUTime) / 1000 })); });`,
)}`;

export interface ChildMeasurement {
  stdout: string;
  /** Peak RSS of the process, in KiB. */
  maxRssKiB: number;
  /** From the process's start to its exit, in ms. */
  ms: number;
  /** CPU time of the whole process (every thread, start-up included), in ms. */
  cpuMs: number;
}

interface SpawnOptions {
  /** Added to this process's environment. */
  env: NodeJS.ProcessEnv;
  /** 'pipe': kept and quoted when the process fails; 'inherit': shown as it comes. */
  stderr: 'pipe' | 'inherit';
  /** Preload PRELOAD and read what it writes to file descriptor 3. */
  measure: boolean;
}

/** Runs `node ...args` and collects its output; fails on a non-zero exit, with its stderr when piped. */
async function runNode(args: string[], options: SpawnOptions): Promise<{ stdout: string; stderr: string; measured: string }> {
  const text = { stdout: '', stderr: '', measured: '' };
  await new Promise<void>((resolve, reject) => {
    const stdio: StdioOptions = ['ignore', 'pipe', options.stderr, ...(options.measure ? (['pipe'] as const) : [])];
    const child = spawn(process.execPath, [...(options.measure ? ['--import', PRELOAD] : []), ...args], { env: { ...process.env, ...options.env }, stdio });
    const streams = { stdout: child.stdio[1], stderr: child.stdio[2], measured: child.stdio[3] } as Record<
      keyof typeof text,
      NodeJS.ReadableStream | null | undefined
    >;
    for (const [name, stream] of Object.entries(streams)) stream?.setEncoding('utf8').on('data', (d: string) => (text[name as keyof typeof text] += d));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code ?? signal}${text.stderr ? `:\n${text.stderr}` : ''}`)),
    );
  });
  return text;
}

/**
 * Runs `node --import PRELOAD ...args` (kollect) in the environment the tests give it
 * (KOLLECT_CHILD_ENV: no NODE_EXTRA_CA_CERTS among others) with `env` added; fails on a non-zero
 * exit, with its stderr.
 */
export async function measuredChild(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildMeasurement> {
  const { stdout, measured } = await runNode(args, { env: { ...KOLLECT_CHILD_ENV, ...env }, stderr: 'pipe', measure: true });
  return { stdout, ...(JSON.parse(measured) as Omit<ChildMeasurement, 'stdout'>) };
}

/** The arguments of `node` that run the TypeScript script at `script` (an import.meta.url) with `args`, through tsx. */
function scriptArgs(script: string, args: string[]): string[] {
  return ['--import', 'tsx', fileURLToPath(script), ...args];
}

/** The child side: hands `result` to the parent, as the last line of stdout. */
export function writeResult(result: unknown): void {
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

/** The parent side: what the child handed over with `writeResult`. */
function readResult<T>(stdout: string): T {
  const last = stdout.trim().split('\n').pop();
  if (!last) throw new Error('the child process wrote no result');
  return JSON.parse(last) as T;
}

/**
 * Runs the script at `script` (an import.meta.url) again with `args` (and `env` added to this
 * process's environment), in a child process of its own, and returns what it hands over with
 * `writeResult`. Its stderr shows as it comes.
 */
export async function scriptChild<T>(script: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<T> {
  const { stdout } = await runNode(scriptArgs(script, args), { env, stderr: 'inherit', measure: false });
  return readResult<T>(stdout);
}
