import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { RunResult } from '../../src/run.js';
import { runKollect, type CliResult } from '../support/cli.js';
import { startS3Server, type S3Server } from '../support/s3-server.js';
import { tempDir } from '../support/store-fixture.js';
import { store } from '../sinks/git/git-fixture.js';
import { BUCKET, serverCredentialsEnv } from '../sinks/s3/s3-fixture.js';

/**
 * The s3 sink through the built CLI (`bin/kollect export --from STORE`), beside a file sink, as a
 * CronJob runs it: separate processes, exit codes, and what lands in the bucket.
 */

const MANIFEST = 'manifests/c1/manifest.json';

describe('kollect export to an s3 sink (CLI processes)', () => {
  let server: S3Server;
  before(async () => {
    server = await startS3Server();
    await server.createBucket(BUCKET);
  });
  after(async () => server.close());

  /** A config exporting cluster c1 to a file sink and to the s3 sink under `prefix`; the state folder and files folder are fresh. */
  async function writeConfig(prefix: string): Promise<{ config: string; files: string; env: NodeJS.ProcessEnv }> {
    const dir = await tempDir('kollect-s3-e2e-');
    const config = join(dir, 'kollect.yaml');
    const s3 = [
      'name: fleet-bucket',
      'type: s3',
      `bucket: ${BUCKET}`,
      `prefix: ${prefix}`,
      `endpoint: ${JSON.stringify(server.endpoint)}`,
      'forcePathStyle: true',
      'retries: 0',
      'credentials: { accessKeyId: { env: TEST_S3_KEY }, secretAccessKey: { env: TEST_S3_SECRET } }',
    ];
    await writeFile(config, `cluster: c1\nsinks:\n  - { name: files, type: file, dir: ${JSON.stringify(join(dir, 'files'))} }\n  - { ${s3.join(', ')} }\n`);
    return { config, files: join(dir, 'files'), env: { ...serverCredentialsEnv(server), KOLLECT_GIT_MIRROR_DIR: join(dir, 'state') } };
  }

  const outcomes = (run: CliResult): RunResult['sinks'] => (JSON.parse(run.stdout) as RunResult).sinks;

  it("GIVEN a file and an s3 sink WHEN exporting twice THEN the bucket holds the file sink's bytes and a manifest, and the second run makes no S3 request", async () => {
    const source = await store({ cluster: 'c1' });
    const { config, files, env } = await writeConfig('e2e');

    const first = await runKollect(['export', '--from', source.dir, '--config', config, '--output', 'json'], { env });

    assert.equal(first.code, 0, first.stderr);
    const path = 'clusters/c1/namespaces/ns-002.json';
    assert.deepEqual((await server.readObject(BUCKET, `e2e/${path}`))?.body, await readFile(join(files, path)));
    assert.ok(await server.readObject(BUCKET, `e2e/${MANIFEST}`));
    server.clearRequests();

    const second = await runKollect(['export', '--from', source.dir, '--config', config, '--output', 'json'], { env });

    assert.equal(second.code, 0, second.stderr);
    assert.equal(server.count(), 0);
    assert.deepEqual(
      outcomes(second).map((outcome) => outcome.ok && outcome.result.skipped?.reason),
      ['unchanged', 'unchanged'],
    );
  });

  it('GIVEN a shard PUT the store holds without an answer WHEN SIGTERM arrives THEN exit 1 INTERRUPTED, and no manifest was written', async () => {
    const source = await store({ cluster: 'c1' });
    const { config, env } = await writeConfig('sigterm');
    const held = 'sigterm/clusters/c1/namespaces/ns-003.json';
    server.inject({ method: 'PUT', key: held, kind: 'slow', delayMs: 10_000 });

    const run = await runKollect(['export', '--from', source.dir, '--config', config, '--output', 'json'], {
      env,
      onSpawn: (pid) =>
        void (async () => {
          while (server.count({ method: 'PUT', key: held }) === 0) await nextTurn();
          process.kill(pid, 'SIGTERM');
        })(),
    });

    server.clearFaults();
    assert.equal(run.code, 1, run.stderr);
    const s3 = outcomes(run).find((outcome) => outcome.sink === 'fleet-bucket');
    assert.ok(s3 && !s3.ok);
    assert.equal(s3.error.code, 'INTERRUPTED');
    assert.equal(await server.readObject(BUCKET, `sigterm/${MANIFEST}`), undefined);
  });
});
