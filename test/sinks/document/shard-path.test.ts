import assert from 'node:assert/strict';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import type { FileSinkConfig } from '../../../src/config/schema.js';
import { SinkError } from '../../../src/errors.js';
import { silentLogger } from '../../../src/log.js';
import { createFileSink } from '../../../src/sinks/file/file-sink.js';
import type { SinkContext } from '../../../src/sinks/sink.js';
import { CollectStore } from '../../../src/store/collect-store.js';
import { STORE_MANIFEST_FILE } from '../../../src/store/store-manifest.js';
import { withGitServer } from '../../support/git-server.js';
import { storeOf, syntheticRows, tempDir } from '../../support/store-fixture.js';
import { context, gitSink } from '../git/git-fixture.js';

const ctx: SinkContext = { log: silentLogger, signal: new AbortController().signal, force: false, now: () => new Date() };

/** The shard key a hand-edited store gives a namespace: up two folders from `clusters/c1/namespaces/`, and more. */
const HOSTILE_SHARD = '../../../../escaped';

/**
 * A collect store written by kollect, then edited by hand: the manifest's shard ns-001 renamed to
 * HOSTILE_SHARD (its rows stay where they are). The store opens: a manifest's shard key is data.
 */
async function editedStore(): Promise<CollectStore> {
  const store = await storeOf('c1', syntheticRows({ cluster: 'c1', count: 120, namespaces: 3 }));
  const path = join(store.dir, STORE_MANIFEST_FILE);
  const manifest = JSON.parse(await readFile(path, 'utf8')) as { shards: Array<{ key: string }> };
  manifest.shards.find((shard) => shard.key === 'ns-001')!.key = HOSTILE_SHARD;
  manifest.shards.sort((a, b) => (a.key < b.key ? -1 : 1));
  await writeFile(path, JSON.stringify(manifest));
  return CollectStore.open(store.dir);
}

/** Every file under `dir`, relative, recursively. */
async function filesUnder(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

function assertShardPathError(error: unknown, sink: string): true {
  assert.ok(error instanceof SinkError, String(error));
  assert.equal(error.code, 'SHARD_PATH_INVALID');
  assert.equal(error.data.sink, sink);
  assert.equal(error.data.shard, HOSTILE_SHARD);
  assert.ok(error.message.includes(JSON.stringify(HOSTILE_SHARD)), error.message);
  return true;
}

describe('document sinks: a shard key that would leave the root', () => {
  it('GIVEN a hand-edited store with shard "../../../../escaped" WHEN the file sink plans and applies THEN SHARD_PATH_INVALID names the shard, and nothing is written inside or outside its dir', async () => {
    // GIVEN: the sink's dir three folders down, so the shard's path would end beside them.
    const base = await tempDir('kollect-escape-');
    const dir = join(base, 'a', 'b', 'out');
    await mkdir(dir, { recursive: true });
    const store = await editedStore();
    const config = validateConfig({ cluster: 'c1', sinks: [{ name: 'files', type: 'file', dir }] }).sinks[0] as FileSinkConfig;
    const sink = createFileSink(config);

    // WHEN / THEN
    await assert.rejects(sink.plan(store, ctx), (error) => assertShardPathError(error, 'files'));
    await assert.rejects(sink.apply(store, ctx), (error) => assertShardPathError(error, 'files'));
    assert.deepEqual(await filesUnder(base), []);
  });

  it('GIVEN the same edited store WHEN the Git sink applies THEN SHARD_PATH_INVALID (not GIT_REMOTE_FAILED) names the shard, and the remote is unchanged', () =>
    withGitServer(async (server) => {
      // GIVEN
      const store = await editedStore();
      const { sink } = await gitSink(server);
      const head = (await server.git(['rev-parse', 'main'])).trim();

      // WHEN / THEN
      await assert.rejects(sink.apply(store, context()), (error) => assertShardPathError(error, 'audit'));
      assert.equal((await server.git(['rev-parse', 'main'])).trim(), head);
    }));
});
