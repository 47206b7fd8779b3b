import assert from 'node:assert/strict';
import { chmod, cp, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runKollect, type CliResult } from '../support/cli.js';
import { startKubeSim } from '../support/kube-sim/index.js';
import { tempDir } from '../support/store-fixture.js';

const VERSION = (JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
const CACHE_NAME = /^kollect-[0-9a-f]{16}-(?<command>[a-z-]+)-[0-9a-f]{8}\.v8$/;

/** `kollect --version` with `env` added (KOLLECT_COMPILE_CACHE, XDG_CACHE_HOME...); it must succeed. */
async function version(env: NodeJS.ProcessEnv): Promise<CliResult> {
  const run = await runKollect(['--version'], { env });
  assert.equal(run.code, 0, run.stderr);
  assert.equal(run.stdout.trim(), VERSION);
  return run;
}

async function cacheFiles(folder: string): Promise<string[]> {
  return (await readdir(folder)).sort();
}

describe('the compile cache of bin/kollect (src/cli/launch.ts)', () => {
  it('GIVEN a first run THEN it writes one private cache per command, which the next runs read without rewriting', async () => {
    const folder = join(await tempDir('kollect-launch-'), 'cache');
    await version({ KOLLECT_COMPILE_CACHE: folder });
    const [file] = await cacheFiles(folder);
    assert.equal(file?.match(CACHE_NAME)?.groups?.command, 'other', file);
    assert.equal((await stat(folder)).mode & 0o777, 0o700);
    const first = await stat(join(folder, file!));
    assert.equal(first.mode & 0o777, 0o600);
    assert.ok(first.size > 100_000, `a cache of ${first.size} bytes`);

    // V8 accepted it: a rejected or missing cache is written again at the end of the run.
    await version({ KOLLECT_COMPILE_CACHE: folder });
    const second = await stat(join(folder, file!));
    assert.deepEqual([second.ino, second.mtimeMs], [first.ino, first.mtimeMs]);

    const validate = await runKollect(['config', 'validate', fileURLToPath(new URL('../../examples/minimal.yaml', import.meta.url))], { env: { KOLLECT_COMPILE_CACHE: folder } });
    assert.equal(validate.code, 0, validate.stderr);
    assert.deepEqual((await cacheFiles(folder)).map((name) => name.match(CACHE_NAME)?.groups?.command), ['config', 'other']);
  });

  it('GIVEN a command that lists a cluster THEN the vendored Kubernetes client it loads gets a cache of its own, which the next run reads', async () => {
    const sim = await startKubeSim({ objects: 200 });
    try {
      const dir = await tempDir('kollect-launch-');
      const folder = join(dir, 'cache');
      const kubeconfig = join(dir, 'kubeconfig');
      await sim.writeKubeconfig(kubeconfig);
      const config = join(dir, 'kollect.yaml');
      await writeFile(config, ['cluster: launch', `kube: { kubeconfig: ${JSON.stringify(kubeconfig)} }`, `store: { dir: ${JSON.stringify(join(dir, 'store'))} }`].join('\n'));
      const collect = async (): Promise<void> => {
        const run = await runKollect(['collect', '-c', config, '--output', 'json'], { env: { KOLLECT_COMPILE_CACHE: folder } });
        assert.equal(run.code, 0, run.stderr);
      };
      await collect();
      const files = await cacheFiles(folder);
      // main.cjs's and vendor-kube-client.cjs's, named after each file's own hash.
      assert.equal(files.length, 2, files.join(', '));
      assert.deepEqual(files.map((name) => name.match(CACHE_NAME)?.groups?.command), ['collect', 'collect']);
      const before = await Promise.all(files.map((name) => stat(join(folder, name))));
      assert.ok(Math.max(...before.map((s) => s.size)) > 1_000_000, `caches of ${before.map((s) => s.size).join(' and ')} bytes`);

      // A run of another command (which writes its own cache and drops stale ones) keeps both.
      await version({ KOLLECT_COMPILE_CACHE: folder });
      await collect();
      const after = await Promise.all(files.map((name) => stat(join(folder, name))));
      assert.deepEqual(
        after.map((s) => [s.ino, s.mtimeMs]),
        before.map((s) => [s.ino, s.mtimeMs]),
      );
      assert.equal((await cacheFiles(folder)).length, 3);
    } finally {
      await sim.close();
    }
  });

  it('GIVEN a cache that is garbage or of another build THEN the run is as without one, and the cache is made anew', async () => {
    const folder = join(await tempDir('kollect-launch-'), 'cache');
    await version({ KOLLECT_COMPILE_CACHE: folder });
    const [file] = await cacheFiles(folder);
    const garbage = Buffer.alloc(200_000, 7);
    await writeFile(join(folder, file!), garbage);
    const stale = 'kollect-0000000000000000-other-00000000.v8';
    await writeFile(join(folder, stale), garbage);
    await writeFile(join(folder, 'unrelated.txt'), 'kept');

    await version({ KOLLECT_COMPILE_CACHE: folder });
    assert.deepEqual(await cacheFiles(folder), [file, 'unrelated.txt']);
    assert.notDeepEqual(await readFile(join(folder, file!)), garbage);
  });

  it('GIVEN a run that fails THEN it writes no cache (it compiled little of its command)', async () => {
    const folder = join(await tempDir('kollect-launch-'), 'cache');
    const run = await runKollect(['config', 'validate', join(folder, '..', 'missing.yaml')], { env: { KOLLECT_COMPILE_CACHE: folder } });
    assert.equal(run.code, 2, run.stderr);
    assert.deepEqual(await cacheFiles(folder), []);
  });

  it('GIVEN no KOLLECT_COMPILE_CACHE THEN the cache is under $XDG_CACHE_HOME/kollect; GIVEN off THEN nothing is written', async () => {
    const home = await tempDir('kollect-launch-');
    await version({ XDG_CACHE_HOME: home });
    assert.match((await cacheFiles(join(home, 'kollect')))[0] ?? '', CACHE_NAME);

    const other = await tempDir('kollect-launch-');
    await version({ XDG_CACHE_HOME: other, KOLLECT_COMPILE_CACHE: 'off' });
    assert.deepEqual(await cacheFiles(other), []);
  });

  it('GIVEN a folder others may write to, or one that cannot be made THEN the run succeeds without a cache (nothing is written there)', async () => {
    const shared = join(await tempDir('kollect-launch-'), 'shared');
    await mkdir(shared);
    await chmod(shared, 0o777);
    await version({ KOLLECT_COMPILE_CACHE: shared });
    assert.deepEqual(await cacheFiles(shared), []);

    const file = join(await tempDir('kollect-launch-'), 'a-file');
    await writeFile(file, '');
    await version({ KOLLECT_COMPILE_CACHE: join(file, 'cache') });
  });

  it('GIVEN two checkouts of one build sharing a cache folder THEN a stack trace of the second names its own files, not the first\'s', async () => {
    const dir = await tempDir('kollect-launch-');
    const folder = join(dir, 'cache');
    const built = fileURLToPath(new URL('../..', import.meta.url));
    const checkouts = ['first', 'second'].map((name) => join(dir, name));
    for (const checkout of checkouts) {
      await cp(join(built, 'bin'), join(checkout, 'bin'), { recursive: true });
      await cp(join(built, 'dist', 'bundle'), join(checkout, 'dist', 'bundle'), { recursive: true });
      await cp(join(built, 'package.json'), join(checkout, 'package.json'));
    }
    // A failure inside the bundle's own code, where a user would meet one: its stdout breaks.
    const hook = join(dir, 'stdout-breaks.cjs');
    await writeFile(hook, "if (process.env.STDOUT_BREAKS) process.stdout.write = () => { throw new Error('stdout is gone'); };\n");
    const env = { KOLLECT_COMPILE_CACHE: folder, NODE_OPTIONS: `--require ${hook}` };
    const validate = (checkout: string, extra: NodeJS.ProcessEnv = {}): Promise<CliResult> =>
      runKollect(['config', 'validate', fileURLToPath(new URL('../../examples/minimal.yaml', import.meta.url))], { bin: join(checkout, 'bin', 'kollect'), env: { ...env, ...extra } });
    const [first, second] = checkouts as [string, string];

    // GIVEN the first checkout's run left its cache
    assert.equal((await validate(first)).code, 0);
    assert.equal((await cacheFiles(folder)).length, 1);
    // WHEN the second checkout fails
    const failed = await validate(second, { STDOUT_BREAKS: '1' });
    // THEN its stack trace names its own bundle
    assert.equal(failed.code, 1, failed.stderr);
    assert.match(failed.stderr, /stdout is gone/);
    assert.ok(failed.stderr.includes(join(second, 'dist', 'bundle', 'main.cjs')), failed.stderr);
    assert.ok(!failed.stderr.includes(first), failed.stderr);
    // AND each checkout keeps a cache of its own: neither compiles again at every run.
    assert.equal((await validate(second)).code, 0);
    assert.equal((await cacheFiles(folder)).length, 2);
  });

  it('GIVEN --enable-source-maps THEN Node loads the bundle itself (its maps apply) and no cache is written', async () => {
    const folder = join(await tempDir('kollect-launch-'), 'cache');
    await version({ KOLLECT_COMPILE_CACHE: folder, NODE_OPTIONS: '--enable-source-maps' });
    await assert.rejects(readdir(folder), { code: 'ENOENT' });
  });
});
