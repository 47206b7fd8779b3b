/**
 * `npm run demo`: kollect end to end on this machine, nothing to install or configure.
 * Builds kollect (`npm run build`), starts the local Kubernetes API server (about 10,000
 * objects), an embedded PostgreSQL (or the one in DATABASE_URL), a Git repository served over
 * HTTP and an S3-compatible store (s3rver), then runs the real CLI: `db init`, `collect` into all four sinks, a second `collect` that
 * changes nothing (every sink skips), `export --dry-run` after a few objects changed, and
 * `shard-report`. Everything lands under .kollect/demo/.
 */
import { spawn } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startGitServer } from '../test/support/git-server.js';
import { startKubeSim } from '../test/support/kube-sim/index.js';
import { startPostgres } from '../test/support/postgres.js';
import { startS3Server } from '../test/support/s3-server.js';
import { buildKollect, KOLLECT } from './support/build-kollect.js';

const root = resolve('.kollect/demo');

buildKollect();
await rm(root, { recursive: true, force: true });
await mkdir(root, { recursive: true });
const sim = await startKubeSim({ objects: 10_000, seed: 7 });
const git = await startGitServer({ repoName: 'inventory.git' });
const postgres = await startPostgres();
const databaseUrl = await postgres.createDatabase();
const s3 = await startS3Server();
await s3.createBucket('inventory');

/** Runs the real CLI; asynchronously, because the servers it talks to live in this process. */
async function run(title: string, args: string[]): Promise<number> {
  const bold = (text: string): string => (process.stdout.isTTY ? `\x1b[1m${text}\x1b[0m` : text);
  process.stdout.write(`\n${bold(`$ kollect ${args.join(' ')}`)}   # ${title}\n`);
  const child = spawn(process.execPath, [KOLLECT, ...args], {
    stdio: 'inherit',
    // The database URL reaches kollect the way it would in production: from the environment.
    env: {
      ...process.env,
      KOLLECT_CONFIG: join(root, 'kollect.yaml'),
      DATABASE_URL: databaseUrl,
      DEMO_S3_KEY: s3.credentials.accessKeyId,
      DEMO_S3_SECRET: s3.credentials.secretAccessKey,
      KOLLECT_GIT_MIRROR_DIR: join(root, 'state'),
    },
  });
  const code = await new Promise<number>((resolve) => child.on('close', (status) => resolve(status ?? 1)));
  process.stdout.write(`(exit code ${code})\n`);
  return code;
}

try {
  const kubeconfig = join(root, 'kubeconfig');
  await sim.writeKubeconfig(kubeconfig);
  await writeFile(
    join(root, 'kollect.yaml'),
    [
      'cluster: demo',
      `kube: { kubeconfig: ${JSON.stringify(kubeconfig)} }`,
      'resources:',
      '  - { version: v1, resource: namespaces }',
      '  - { version: v1, resource: nodes }',
      '  - { version: v1, resource: pods }',
      '  - { version: v1, resource: services }',
      '  - { version: v1, resource: configmaps }',
      '  - { version: v1, resource: secrets }',
      '  - { group: apps, version: v1, resource: deployments }',
      '  - { group: example.com, version: v1, resource: widgets, profile: widget }',
      'profiles:',
      '  widget: { attributes: { size: spec.size, color: spec.color } }',
      `store: { dir: ${JSON.stringify(join(root, 'store'))} }`,
      'sinks:',
      `  - { name: files, type: file, dir: ${JSON.stringify(join(root, 'inventory'))} }`,
      '  - { name: fleet-db, type: postgres, url: { env: DATABASE_URL } }',
      `  - { name: audit, type: git, url: ${JSON.stringify(git.url)}, exportMinInterval: 1h, mirrorDir: ${JSON.stringify(join(root, 'git-mirror'))} }`,
      `  - { name: bucket, type: s3, bucket: inventory, endpoint: ${JSON.stringify(s3.endpoint)}, forcePathStyle: true,`,
      '      credentials: { accessKeyId: { env: DEMO_S3_KEY }, secretAccessKey: { env: DEMO_S3_SECRET } } }',
      '',
    ].join('\n'),
  );
  process.stdout.write(
    [
      `Local Kubernetes API server: ${sim.url} (${sim.expectedCounts().total.toLocaleString('en-US')} objects)`,
      `PostgreSQL:                  ${postgres.embedded ? 'embedded, started for the demo' : 'from DATABASE_URL'}`,
      `Git repository:              ${git.url}`,
      `S3-compatible store:         ${s3.endpoint} (bucket inventory)`,
      `Config, store and files:     ${root}`,
      '',
    ].join('\n'),
  );
  let failed = 0;
  failed ||= await run('create the items and runs tables (idempotent)', ['db', 'init']);
  failed ||= await run('list the cluster, spool the store, export to files, Postgres, Git and S3', ['collect']);
  failed ||= await run('again: nothing changed, so no file, row, commit or object is written', ['collect']);
  const { changed, removed } = sim.mutate({ change: 12, remove: 3, seed: 1 });
  process.stdout.write(`\n# meanwhile in the cluster: ${changed.length} objects changed, ${removed.length} deleted\n`);
  failed ||= await run('what would an export change now? (writes nothing)', ['export', '--dry-run']);
  await run('which namespaces are too large for one export payload? (exit 1 when one is)', ['shard-report', '--from', join(root, 'store')]);
  process.stdout.write(`\nFiles: ${join(root, 'inventory')}   Git mirror: ${join(root, 'git-mirror')}\n`);
  process.exitCode = failed;
} finally {
  await Promise.all([sim.close(), git.close(), s3.close()]);
}
