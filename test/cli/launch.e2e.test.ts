import assert from 'node:assert/strict';
import { chmod, cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runKollect, type CliResult } from '../support/cli.js';
import { startKubeSim } from '../support/kube-sim/index.js';
import { tempDir } from '../support/store-fixture.js';

const VERSION = (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
/** Node's compile cache (`module.enableCompileCache`) came with Node 22.1; on Node 20 there is none. */
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
const NO_CACHE = major < 22 || (major === 22 && minor < 1) ? `Node ${process.version} has no compile cache` : false;

/** `kollect --version` with `env` added (KOLLECT_COMPILE_CACHE, XDG_CACHE_HOME...); it must succeed. */
async function version(env: NodeJS.ProcessEnv): Promise<CliResult> {
  const run = await runKollect(['--version'], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), VERSION);
  return run;
}

/** The files under `folder` (Node keeps one folder per Node version in it), by path, with what identifies each write; none when it does not exist. */
async function cacheFiles(folder: string): Promise<Map<string, { ino: number; mtimeMs: number; size: number; mode: number }>> {
  const names = await readdir(folder, { recursive: true }).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  const files = new Map<string, { ino: number; mtimeMs: number; size: number; mode: number }>();
  for (const name of names.sort()) {
    const { ino, mtimeMs, size, mode } = await stat(join(folder, name));
    if ((mode & 0o170000) === 0o100000) files.set(name, { ino, mtimeMs, size, mode });
  }
  return files;
}

const MINIMAL = fileURLToPath(new URL('../../examples/minimal.yaml', import.meta.url));

describe('the compile cache of bin/kollect (src/cli/launch.ts)', () => {
  it('GIVEN a first run THEN it writes its cache in a private folder, which the next runs read without rewriting', { skip: NO_CACHE }, async () => {
    const folder = join(await tempDir('kollect-launch-'), 'cache');
    await version({ KOLLECT_COMPILE_CACHE: folder });
    const first = await cacheFiles(folder);
    assert.equal((await stat(folder)).mode & 0o777, 0o700);
    assert.equal(first.size, 1, [...first.keys()].join(', '));
    const [main] = [...first.values()];
    assert.equal(main!.mode & 0o077, 0, 'the cache is readable by others');
    assert.ok(main!.size > 100_000, `a cache of ${main!.size} bytes`);

    // Node accepted it: a rejected or missing cache is written again at the end of the run.
    await version({ KOLLECT_COMPILE_CACHE: folder });
    const validate = await runKollect(['config', 'validate', MINIMAL], { env: { KOLLECT_COMPILE_CACHE: folder } });
    assert.equal(validate.code, 0, validate.stderr);
    assert.deepEqual(await cacheFiles(folder), first);
  });

  it(
    'GIVEN a command that lists a cluster THEN the vendored Kubernetes client it loads is cached too, and the next run reads it',
    { skip: NO_CACHE },
    async () => {
      const sim = await startKubeSim({ objects: 200 });
      try {
        const dir = await tempDir('kollect-launch-');
        const folder = join(dir, 'cache');
        const kubeconfig = join(dir, 'kubeconfig');
        await sim.writeKubeconfig(kubeconfig);
        const config = join(dir, 'kollect.yaml');
        await writeFile(
          config,
          ['cluster: launch', `kube: { kubeconfig: ${JSON.stringify(kubeconfig)} }`, `store: { dir: ${JSON.stringify(join(dir, 'store'))} }`].join('\n'),
        );
        const collect = async (): Promise<void> => {
          const run = await runKollect(['collect', '-c', config, '--output', 'json'], { env: { KOLLECT_COMPILE_CACHE: folder } });
          assert.equal(run.code, 0, run.stderr);
        };
        await version({ KOLLECT_COMPILE_CACHE: folder });
        const [main] = [...(await cacheFiles(folder)).keys()];
        await collect();
        const before = await cacheFiles(folder);
        const vendored = [...before].filter(([name]) => name !== main);
        // main.cjs's, and vendor-kube-client.cjs's (1.2 MB of source).
        assert.equal(vendored.length, 1, [...before.keys()].join(', '));
        assert.ok(vendored[0]![1].size > 100_000, `a cache of ${vendored[0]![1].size} bytes`);

        await collect();
        assert.deepEqual(await cacheFiles(folder), before);
      } finally {
        await sim.close();
      }
    },
  );

  it('GIVEN a cache that is garbage THEN the run is as without one, and the cache is made anew', { skip: NO_CACHE }, async () => {
    const folder = join(await tempDir('kollect-launch-'), 'cache');
    await version({ KOLLECT_COMPILE_CACHE: folder });
    const garbage = Buffer.alloc(200_000, 7);
    const [file] = [...(await cacheFiles(folder)).keys()];
    await writeFile(join(folder, file!), garbage);

    await version({ KOLLECT_COMPILE_CACHE: folder });
    assert.deepEqual([...(await cacheFiles(folder)).keys()], [file]);
    assert.notDeepEqual(await readFile(join(folder, file!)), garbage);
  });

  it('GIVEN no KOLLECT_COMPILE_CACHE THEN the cache is under $XDG_CACHE_HOME/kollect; GIVEN off THEN nothing is written', { skip: NO_CACHE }, async () => {
    const home = await tempDir('kollect-launch-');
    await version({ XDG_CACHE_HOME: home });
    assert.equal((await cacheFiles(join(home, 'kollect'))).size, 1);

    const other = await tempDir('kollect-launch-');
    await version({ XDG_CACHE_HOME: other, KOLLECT_COMPILE_CACHE: 'off' });
    assert.deepEqual(await cacheFiles(other), new Map());
  });

  it(
    'GIVEN a Node without a compile cache THEN the run succeeds and makes no cache folder',
    { skip: !NO_CACHE && `Node ${process.version} has a compile cache` },
    async () => {
      const folder = join(await tempDir('kollect-launch-'), 'cache');
      await version({ KOLLECT_COMPILE_CACHE: folder });
      await assert.rejects(readdir(folder), { code: 'ENOENT' });
    },
  );

  it('GIVEN a folder others may write to, or one that cannot be made THEN the run succeeds without a cache (nothing is written there)', async () => {
    const shared = join(await tempDir('kollect-launch-'), 'shared');
    await mkdir(shared);
    await chmod(shared, 0o777);
    await version({ KOLLECT_COMPILE_CACHE: shared });
    assert.deepEqual(await cacheFiles(shared), new Map());

    const file = join(await tempDir('kollect-launch-'), 'a-file');
    await writeFile(file, '');
    await version({ KOLLECT_COMPILE_CACHE: join(file, 'cache') });
  });

  /** NODE_OPTIONS that make a run fail inside the bundle's own code, where a user would meet a failure: its stdout breaks (with STDOUT_BREAKS set). */
  async function stdoutBreaks(dir: string): Promise<string> {
    const hook = join(dir, 'stdout-breaks.cjs');
    await writeFile(hook, "if (process.env.STDOUT_BREAKS) process.stdout.write = () => { throw new Error('stdout is gone'); };\n");
    return `--require ${hook}`;
  }

  it(
    "GIVEN two checkouts of one build sharing a cache folder THEN a stack trace of the second names its own files, not the first's",
    { skip: NO_CACHE },
    async () => {
      const dir = await tempDir('kollect-launch-');
      const folder = join(dir, 'cache');
      const built = fileURLToPath(new URL('../..', import.meta.url));
      const checkouts = ['first', 'second'].map((name) => join(dir, name));
      for (const checkout of checkouts) {
        await cp(join(built, 'bin'), join(checkout, 'bin'), { recursive: true });
        await cp(join(built, 'dist', 'bundle'), join(checkout, 'dist', 'bundle'), { recursive: true });
        await cp(join(built, 'package.json'), join(checkout, 'package.json'));
      }
      const env = { KOLLECT_COMPILE_CACHE: folder, NODE_OPTIONS: await stdoutBreaks(dir) };
      const validate = (checkout: string, extra: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
        runKollect(['config', 'validate', MINIMAL], { bin: join(checkout, 'bin', 'kollect'), env: { ...env, ...extra } });
      const [first, second] = checkouts as [string, string];

      // GIVEN the first checkout's run left its cache
      assert.equal((await validate(first)).code, 0);
      assert.equal((await cacheFiles(folder)).size, 1);
      // WHEN the second checkout fails
      const failed = await validate(second, { STDOUT_BREAKS: '1' });
      // THEN its stack trace names its own bundle
      assert.equal(failed.code, 1, failed.stderr);
      assert.match(failed.stderr, /stdout is gone/);
      assert.ok(failed.stderr.includes(join(second, 'dist', 'bundle', 'main.cjs')), failed.stderr);
      assert.ok(!failed.stderr.includes(first), failed.stderr);
      // AND each checkout keeps a cache of its own: neither compiles again at every run.
      assert.equal((await validate(second)).code, 0);
      assert.equal((await cacheFiles(folder)).size, 2);
    },
  );

  it('GIVEN --enable-source-maps THEN a stack trace names the TypeScript sources, on a first run as on a cached one', async () => {
    const dir = await tempDir('kollect-launch-');
    const env = { KOLLECT_COMPILE_CACHE: join(dir, 'cache'), NODE_OPTIONS: `${await stdoutBreaks(dir)} --enable-source-maps`, STDOUT_BREAKS: '1' };
    for (const run of ['first', 'cached']) {
      const failed = await runKollect(['config', 'validate', MINIMAL], { env });
      assert.equal(failed.code, 1, `${run}: ${failed.stderr}`);
      assert.match(failed.stderr, /at printResult \(\S+src\/cli\/common\.ts:\d+:\d+\)/, run);
    }
  });
});
