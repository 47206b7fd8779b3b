import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const KOLLECT = fileURLToPath(new URL('../../bin/kollect', import.meta.url));

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Called once the process has started, e.g. to send it a signal later. */
  onSpawn?: (pid: number) => void;
  /** Another copy of bin/kollect to run (beside its own dist/bundle/). */
  bin?: string;
  /** Run as this user and group (the test process must be root to switch). */
  uid?: number;
  gid?: number;
}

/**
 * What a kollect process of the tests and benchmarks gets instead of this machine's own settings:
 * CI=true (the non-interactive output: JSON log lines, no spinner), and none of kollect's
 * environment variables (each test passes its own). Nor NODE_EXTRA_CA_CERTS: with it, Node reads
 * and parses that CA bundle at every start, before any of kollect's code runs. This machine sets
 * it for every program (144 certificates, for its registry proxy), which cost each process about
 * 80 ms of CPU (42% of the instructions of an unchanged export, under callgrind); a CronJob's
 * container has no such variable, and no test needs it: the test servers' TLS brings its own CA.
 */
export const KOLLECT_CHILD_ENV: NodeJS.ProcessEnv = {
  CI: 'true',
  KOLLECT_CONFIG: undefined,
  KUBECONFIG: undefined,
  KOLLECT_METRICS_FILE: undefined,
  KOLLECT_PUSHGATEWAY: undefined,
  KOLLECT_COMPILE_CACHE: undefined,
  NODE_EXTRA_CA_CERTS: undefined,
};

/**
 * Runs the built CLI (`bin/kollect` over the bundle in dist/bundle/) as a separate process, as a user would. Async,
 * so servers running in the test process (API server, git server) keep serving meanwhile.
 * Its environment is this process's with KOLLECT_CHILD_ENV over it, then `options.env`.
 */
export function runKollect(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [options.bin ?? KOLLECT, ...args], {
      cwd: options.cwd,
      uid: options.uid,
      gid: options.gid,
      env: { ...process.env, ...KOLLECT_CHILD_ENV, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    if (child.pid !== undefined) options.onSpawn?.(child.pid);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** The JSON log lines a run wrote on stderr (off a terminal every log line is one). */
export function logLines(run: Pick<CliResult, 'stderr'>): Array<Record<string, unknown>> {
  return run.stderr
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}
