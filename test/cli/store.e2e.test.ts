import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { CollectStore } from '../../src/store/collect-store.js';
import { runKollect, type CliResult } from '../support/cli.js';
import { startKubeSim, type KubeSim } from '../support/kube-sim/index.js';
import { setup } from '../support/e2e-setup.js';
import { tempDir } from '../support/store-fixture.js';

/** Three types of the local API server, a few pages each. */
const TYPES = {
  resources: ['{ version: v1, resource: nodes }', '{ version: v1, resource: pods }', '{ version: v1, resource: configmaps }'],
  list: '{ pageSize: 100, retries: 4 }',
};

/** The error a run ended with: its last stderr line, a JSON object off a terminal. */
function lastError(run: CliResult): { code?: string; message?: string; dir?: string; [key: string]: unknown } {
  return JSON.parse(run.stderr.trim().split('\n').pop() ?? '{}') as { code?: string; message?: string; dir?: string };
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

describe('the collect store folder and its lock, through the CLI', () => {
  let sim: KubeSim;
  before(async () => {
    sim = await startKubeSim({ objects: 2_000, seed: 28 });
  });
  after(async () => sim.close());

  const notStores: Array<[string, (work: string) => Promise<{ args: string[]; cwd?: string; refused: string }>]> = [
    ['--store on a folder holding a file of the user', async (work) => ({ args: ['--store', work], refused: work })],
    ['--store . in a folder holding a file of the user', async (work) => ({ args: ['--store', '.'], cwd: work, refused: work })],
    ['--store on a file', async (work) => ({ args: ['--store', join(work, 'notes.txt')], refused: join(work, 'notes.txt') })],
  ];
  for (const [name, scene] of notStores) {
    it(`GIVEN ${name} WHEN collect runs THEN exit 2 STORE_DIR_NOT_A_STORE naming the folder, before any request, and the file is still there`, async () => {
      const s = await setup(sim, TYPES);
      const work = join(s.dir, 'work');
      await mkdir(work);
      await writeFile(join(work, 'notes.txt'), 'my notes\n');
      const { args, cwd, refused } = await scene(work);
      sim.resetStats();

      const run = await runKollect(['collect', '--config', s.config, ...args], cwd ? { cwd } : {});

      assert.equal(run.code, 2, run.stderr);
      const error = lastError(run);
      assert.equal(error.code, 'STORE_DIR_NOT_A_STORE');
      assert.equal(error.dir, refused);
      assert.ok(error.message?.includes(JSON.stringify(refused)), error.message);
      assert.equal(sim.stats.requests, 0, 'no request reached the API server');
      assert.deepEqual(await readdir(work), ['notes.txt']);
      assert.equal(await readFile(join(work, 'notes.txt'), 'utf8'), 'my notes\n');
      assert.deepEqual((await readdir(s.dir)).sort(), ['kollect.yaml', 'kubeconfig', 'work'], 'nothing written beside it either');
    });
  }

  it('GIVEN --store on an empty folder, then on the store it holds THEN both collects exit 0 and it holds the store', async () => {
    const s = await setup(sim, TYPES);
    const empty = join(s.dir, 'empty');
    await mkdir(empty);
    for (let round = 0; round < 2; round++) {
      const run = await runKollect(['collect', '--config', s.config, '--store', empty]);
      assert.equal(run.code, 0, run.stderr);
    }
    const store = await CollectStore.open(empty);
    assert.equal(store.manifest.totals.rows, sim.expectedCounts().byType.nodes! + sim.expectedCounts().byType.pods! + sim.expectedCounts().byType.configmaps!);
    await store.close();
  });

  it('GIVEN a collect in the middle of a list WHEN another collect starts (store.lock.wait 0) THEN it exits 1 LOCK_BUSY naming the store and the holder; an export --from takes no lock and exports the store as it was; with store.lock.wait a third collect waits and exits 0', async () => {
    const s = await setup(sim, TYPES);
    const waits = await setup(sim, { ...TYPES, store: s.store, storeLock: '{ wait: 2m }' });
    assert.equal((await runKollect(['collect', '--config', s.config])).code, 0);
    // A Retry-After holds the first run in the middle of the pods list, holding the store's lock.
    sim.inject({ kind: 'status', status: 429, resource: 'pods', page: 2, retryAfterSeconds: 10 });
    let holderPid = 0;
    const holding = runKollect(['collect', '--config', s.config], { onSpawn: (pid) => (holderPid = pid) });
    const lock = `${s.store}.lock`;
    for (let tries = 0; !(await exists(lock)); tries++) {
      assert.ok(tries < 200, 'the first collect never took the lock');
      await sleep(50);
    }

    const second = await runKollect(['collect', '--config', s.config]);
    const replay = await runKollect(['export', '--config', s.config, '--from', s.store]);
    const waiting = runKollect(['collect', '--config', waits.config]);
    const first = await holding;
    const third = await waiting;
    sim.clearFaults();

    assert.equal(first.code, 0, first.stderr);
    assert.equal(second.code, 1, second.stderr);
    const error = lastError(second);
    assert.equal(error.code, 'LOCK_BUSY');
    assert.equal(error.dir, s.store);
    assert.match(
      error.message ?? '',
      new RegExp(`another kollect run \\(pid ${holderPid} on host .*\\) holds the collect store ${s.store}\\..*store\\.lock\\.wait`),
    );
    assert.equal(replay.code, 0, replay.stderr);
    assert.equal(third.code, 0, third.stderr);
    assert.match(third.stderr, /holds the collect store .*: waiting up to 120 s for it/);
    assert.equal(await exists(lock), false, 'the lock is released');
    const store = await CollectStore.open(s.store);
    assert.equal(store.manifest.totals.rows, sim.expectedCounts().byType.nodes! + sim.expectedCounts().byType.pods! + sim.expectedCounts().byType.configmaps!);
    await store.close();
  });
});

const exec = promisify(execFile);

describe('a collect store on a full volume, through the CLI', () => {
  let sim: KubeSim;
  let volume: string | undefined;
  let cannotMount: string | undefined;
  before(async () => {
    sim = await startKubeSim({ objects: 2_000, seed: 28 });
    // A real full disk: a tmpfs of 64 KiB. Mounting needs root (CAP_SYS_ADMIN); without, the test says why it skips.
    const dir = await tempDir('kollect-full-');
    try {
      await exec('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', dir]);
      volume = dir;
    } catch (error) {
      cannotMount = `cannot mount a small tmpfs here (${(error as Error).message.split('\n')[0]})`;
    }
  });
  after(async () => {
    if (volume) await exec('umount', [volume]);
    await sim.close();
  });

  it('GIVEN store.dir on a volume too small for the store WHEN collect runs THEN exit 1 STORE_UNWRITABLE saying the volume is full and how much the store needs, not to mount a volume', async (t) => {
    if (!volume) return t.skip(cannotMount);
    const s = await setup(sim, { ...TYPES, store: join(volume, 'store') });

    const run = await runKollect(['collect', '--config', s.config]);

    assert.equal(run.code, 1, run.stderr);
    const error = lastError(run) as { code?: string; message?: string; errno?: string; neededBytes?: number; spooledBytes?: number };
    assert.equal(error.code, 'STORE_UNWRITABLE');
    assert.equal(error.errno, 'ENOSPC');
    assert.match(error.message ?? '', /its volume is full \(ENOSPC .*\)\. This collection had spooled .*, so the volume must hold at least .* for the store/);
    assert.match(error.message ?? '', /Free space on the volume, give it more room \(a larger volume, or a higher sizeLimit on an emptyDir\)/);
    assert.doesNotMatch(error.message ?? '', /mounted on its parent/);
    assert.ok((error.spooledBytes ?? 0) > 0 && (error.neededBytes ?? 0) >= (error.spooledBytes ?? 0), JSON.stringify(error));
    assert.doesNotMatch(run.stderr, /internal error|\n\s+at /);
  });
});
