import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { runKollect } from '../support/cli.js';
import { setup } from '../support/e2e-setup.js';
import { startKubeSim, type KubeSim } from '../support/kube-sim/index.js';
import { startS3Server } from '../support/s3-server.js';
import { tempDir } from '../support/store-fixture.js';

/**
 * What a kollect process loads: the bundle keeps the large client libraries in vendor-*.cjs files
 * (scripts/bundle.ts) that a run requires only when it needs them. A run without an s3 sink must
 * not load the AWS SDK (about 1 MB of code to compile), nor one without a Git sink isomorphic-git.
 */

const BUNDLE = fileURLToPath(new URL('../../dist/bundle/', import.meta.url));
const run = promisify(execFile);

describe('the bundled CLI loads a client library only when a run needs it', () => {
  let dir: string;
  let hook: string;
  let sim: KubeSim;
  before(async () => {
    dir = await tempDir('kollect-lazy-');
    hook = join(dir, 'loaded-files.cjs');
    // At exit, the CommonJS files the process loaded (main.cjs and the vendor-*.cjs it required).
    await writeFile(hook, "process.on('exit', () => require('node:fs').writeFileSync(process.env.LOADED_FILES, Object.keys(require.cache).join('\\n')));\n");
    sim = await startKubeSim({ objects: 50 });
  });
  after(() => sim.close());

  /** The bundle's files a run of kollect with `args` loaded. */
  async function bundleFilesLoaded(name: string, args: string[]): Promise<string[]> {
    const list = join(dir, `${name}.txt`);
    const result = await runKollect(args, { env: { NODE_OPTIONS: `--require ${hook}`, LOADED_FILES: list } });
    assert.equal(result.code, 0, result.stderr);
    return (await readFile(list, 'utf8'))
      .split('\n')
      .filter((file) => file.startsWith(BUNDLE))
      .map((file) => basename(file))
      .sort();
  }

  it('GIVEN kollect --help THEN only main.cjs is loaded', async () => {
    assert.deepEqual(await bundleFilesLoaded('help', ['--help']), ['main.cjs']);
  });

  it('GIVEN a collect that exports to a file sink THEN the Kubernetes client is loaded, and neither the AWS SDK nor isomorphic-git', async () => {
    const s = await setup(sim);
    assert.deepEqual(await bundleFilesLoaded('collect', ['collect', '-c', s.config, '--output', 'json']), ['main.cjs', 'vendor-kube-client.cjs']);
  });

  it('GIVEN the bundle THEN the AWS SDK is in vendor-aws-s3.cjs alone, and works from there (its credential chain included)', async () => {
    const mainSources = (JSON.parse(await readFile(join(BUNDLE, 'main.cjs.map'), 'utf8')) as { sources: string[] }).sources;
    assert.deepEqual(
      mainSources.filter((source) => /node_modules\/@(aws-sdk|smithy)\//.test(source)),
      [],
    );

    const server = await startS3Server();
    try {
      await server.createBucket('inventory');
      const script = `
        const { S3Client, PutObjectCommand } = require(${JSON.stringify(join(BUNDLE, 'vendor-aws-s3.cjs'))});
        const client = new S3Client({ endpoint: process.env.ENDPOINT, region: 'us-east-1', forcePathStyle: true, requestChecksumCalculation: 'WHEN_REQUIRED' });
        client.send(new PutObjectCommand({ Bucket: 'inventory', Key: 'bundled.json', Body: '{}' })).then(() => client.destroy());`;
      await run(process.execPath, ['-e', script], {
        env: {
          ...process.env,
          ENDPOINT: server.endpoint,
          AWS_ACCESS_KEY_ID: server.credentials.accessKeyId,
          AWS_SECRET_ACCESS_KEY: server.credentials.secretAccessKey,
          AWS_EC2_METADATA_DISABLED: 'true',
          AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        },
      });
      assert.equal((await server.readObject('inventory', 'bundled.json'))?.body.toString(), '{}');
    } finally {
      await server.close();
    }
  });
});
