import { spawn } from 'node:child_process';

/**
 * Preloaded into a measured process: on exit (kollect's main() ends with process.exit) it
 * writes the process's peak RSS in KiB and how long it ran, in ms from its start, to file
 * descriptor 3, which the parent reads. The process is otherwise exactly what a user runs.
 */
const PRELOAD = `data:text/javascript,${encodeURIComponent(
  "import { writeSync } from 'node:fs'; process.on('exit', () => writeSync(3, JSON.stringify({ maxRssKiB: process.resourceUsage().maxRSS, ms: performance.now() })));",
)}`;

export interface ChildMeasurement {
  stdout: string;
  /** Peak RSS of the process, in KiB. */
  maxRssKiB: number;
  /** From the process's start to its exit, in ms. */
  ms: number;
}

/** Runs `node --import PRELOAD ...args` with `env` added (and CI=true); fails on a non-zero exit, with its stderr. */
export async function measuredChild(args: string[], env: NodeJS.ProcessEnv = {}): Promise<ChildMeasurement> {
  const text = { stdout: '', stderr: '', measured: '' };
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', PRELOAD, ...args], { env: { ...process.env, ...env, CI: 'true' }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
    const streams = { stdout: child.stdio[1], stderr: child.stdio[2], measured: child.stdio[3] } as Record<keyof typeof text, NodeJS.ReadableStream>;
    for (const [name, stream] of Object.entries(streams)) stream.setEncoding('utf8').on('data', (d: string) => (text[name as keyof typeof text] += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${args.join(' ')} exited ${code}:\n${text.stderr}`))));
  });
  const measured = JSON.parse(text.measured) as { maxRssKiB: number; ms: number };
  return { stdout: text.stdout, ...measured };
}
