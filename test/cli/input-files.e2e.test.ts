import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { logLines, runKollect, type CliOptions, type CliResult } from '../support/cli.js';
import { tempDir } from '../support/store-fixture.js';

/**
 * Files a user points kollect at that are not what they seem: a YAML alias bomb, a named pipe, a
 * file kollect may not read, a folder. Each is a usage mistake (exit 2, a message naming the file
 * and what is wrong), never an internal error with a stack trace, and never a hang.
 */

const MINIMAL = fileURLToPath(new URL('../../examples/minimal.yaml', import.meta.url));

/** "Billion laughs": nine levels of nine aliases, 9^9 strings once expanded. */
const ALIAS_BOMB = [
  'cluster: bomb',
  'lol0: &l0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]',
  ...Array.from({ length: 8 }, (_, i) => `lol${i + 1}: &l${i + 1} [${Array(9).fill(`*l${i}`).join(', ')}]`),
  'apiVersion: v1',
  'kind: Pod',
  'metadata: { name: bomb, namespace: shop }',
].join('\n');

/** As root, reads are never refused: such a run switches to nobody (65534), whom a mode of 000 stops. */
const asReader: CliOptions = process.getuid?.() === 0 ? { uid: 65534, gid: 65534, env: { KOLLECT_COMPILE_CACHE: 'off' } } : {};

/** Runs kollect, killing it if it is still running after 20 s (a FIFO read would block forever). */
async function runBounded(args: string[], options: CliOptions = {}): Promise<CliResult> {
  let timer: NodeJS.Timeout | undefined;
  const run = await runKollect(args, { ...options, onSpawn: (pid) => (timer = setTimeout(() => process.kill(pid, 'SIGKILL'), 20_000)) });
  clearTimeout(timer);
  return run;
}

/** The error a run ended with (its last JSON line), after checking that it exited 2 without a stack trace. */
function usageFailure(run: CliResult): { code: string; message: string } {
  assert.equal(run.signal, null, `killed: it hung\n${run.stderr}`);
  assert.equal(run.code, 2, run.stderr);
  assert.doesNotMatch(run.stderr, /\n\s+at /, 'a stack trace');
  const error = logLines(run).at(-1) as { level: string; code: string; message: string };
  assert.equal(error.level, 'error');
  return error;
}

interface HostileFile {
  name: string;
  /** Makes the file at `path` (its folder is made and readable by all). */
  make(path: string): Promise<void>;
  reason: RegExp;
  options?: CliOptions;
}

const HOSTILE_FILES: HostileFile[] = [
  { name: 'a YAML alias bomb', make: (path) => writeFile(path, ALIAS_BOMB), reason: /more than 100 copies of anchored values \(a YAML "alias bomb"\?\)/ },
  { name: 'an alias to no anchor', make: (path) => writeFile(path, 'cluster: *nowhere\n'), reason: /Unresolved alias.*nowhere/ },
  {
    name: 'a named pipe (FIFO)',
    make: async (path) => {
      execFileSync('mkfifo', [path]);
    },
    reason: /is a named pipe \(FIFO\), not a regular file/,
  },
  {
    name: 'a file kollect may not read',
    make: async (path) => {
      await writeFile(path, 'cluster: secret\n');
      await chmod(path, 0o000);
    },
    reason: /permission denied/,
    options: asReader,
  },
  { name: 'a folder', make: (path) => mkdir(path), reason: /is a folder, not a file/ },
];

async function hostileFile(file: HostileFile): Promise<string> {
  const dir = await tempDir('kollect-input-');
  await chmod(dir, 0o755);
  const path = join(dir, 'input.yaml');
  await file.make(path);
  return path;
}

describe('hostile input files', () => {
  for (const file of HOSTILE_FILES.filter((f) => f.name !== 'a folder')) {
    it(`GIVEN ${file.name} as the config file WHEN config validate THEN exit 2, CONFIG_INVALID naming the file and why`, async () => {
      const path = await hostileFile(file);
      const error = usageFailure(await runBounded(['config', 'validate', path], file.options));
      assert.equal(error.code, 'CONFIG_INVALID');
      assert.ok(error.message.startsWith(`${path}: invalid configuration`), error.message);
      assert.match(error.message, file.reason);
    });
  }

  it('GIVEN a folder as the config file THEN the message says so, not EISDIR', async () => {
    const path = await hostileFile(HOSTILE_FILES.find((f) => f.name === 'a folder')!);
    const error = usageFailure(await runBounded(['collect', '--config', path]));
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.match(error.message, /is a folder, not a file/);
  });

  for (const file of HOSTILE_FILES.filter((f) => f.name !== 'a folder')) {
    it(`GIVEN ${file.name} as a manifest WHEN shard-report --manifests THEN exit 2, USAGE naming the file and why`, async () => {
      const path = await hostileFile(file);
      const error = usageFailure(await runBounded(['shard-report', '--config', MINIMAL, '--manifests', path], file.options));
      assert.equal(error.code, 'USAGE');
      assert.ok(error.message.includes(JSON.stringify(path)), error.message);
      assert.match(error.message, file.reason);
    });
  }

  it('GIVEN an alias bomb in the second document of a manifest in a folder THEN exit 2 naming the file and the document', async () => {
    const dir = await tempDir('kollect-input-');
    await writeFile(join(dir, 'pods.yaml'), `apiVersion: v1\nkind: Pod\nmetadata: { name: fine, namespace: shop }\n---\n${ALIAS_BOMB}\n`);
    const error = usageFailure(await runBounded(['shard-report', '--config', MINIMAL, '--manifests', dir]));
    assert.equal(error.code, 'USAGE');
    assert.match(error.message, /pods\.yaml": document 2: its aliases/);
  });
});
