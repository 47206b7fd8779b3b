/**
 * `npm run demo`: kollect end to end on this machine, nothing to install or configure.
 * Starts the local Kubernetes API server with about 10,000 objects, then runs the real CLI:
 * `collect` into a file sink, a second `collect` that changes nothing, and `shard-report`.
 * Everything lands under .kollect/demo/.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { startKubeSim } from '../test/support/kube-sim/index.js';

const root = resolve('.kollect/demo');
const kollect = resolve('bin/kollect');

function run(title: string, args: string[]): number {
  process.stdout.write(`\n\x1b[1m$ kollect ${args.join(' ')}\x1b[0m   # ${title}\n`);
  const result = spawnSync(process.execPath, [kollect, ...args], { stdio: 'inherit', env: { ...process.env, KOLLECT_CONFIG: join(root, 'kollect.yaml') } });
  process.stdout.write(`(exit code ${result.status ?? 'signal'})\n`);
  return result.status ?? 1;
}

await rm(root, { recursive: true, force: true });
await mkdir(root, { recursive: true });
const sim = await startKubeSim({ objects: 10_000, seed: 7 });
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
      '  widget: { attributes: { size: spec.size } }',
      `store: { dir: ${JSON.stringify(join(root, 'store'))} }`,
      'sinks:',
      `  - { name: files, type: file, dir: ${JSON.stringify(join(root, 'inventory'))} }`,
      '',
    ].join('\n'),
  );
  process.stdout.write(`Local Kubernetes API server at ${sim.url} with ${sim.expectedCounts().total.toLocaleString('en-US')} objects; files under ${root}\n`);
  const first = run('list the cluster, spool the store, write one file per namespace', ['collect']);
  run('again: nothing changed, so no file is rewritten', ['collect']);
  run('which namespaces are too large to export as one payload?', ['shard-report', '--from', join(root, 'store')]);
  process.stdout.write(`\nThe inventory files are in ${join(root, 'inventory')}.\n`);
  process.exitCode = first;
} finally {
  await sim.close();
}
