import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { KubeSim } from './kube-sim/index.js';
import { tempDir } from './store-fixture.js';

/** Every kind of type the local API server serves: core, apps, a custom resource, cluster-scoped and namespaced. */
export const ALL_TYPES = [
  '{ version: v1, resource: namespaces }',
  '{ version: v1, resource: nodes }',
  '{ version: v1, resource: pods }',
  '{ version: v1, resource: services }',
  '{ version: v1, resource: configmaps }',
  '{ version: v1, resource: secrets }',
  '{ group: apps, version: v1, resource: deployments }',
  '{ group: example.com, version: v1, resource: widgets }',
];

/** A temporary folder with a config for the CLI: its store and the file sink's folder. */
export interface Setup {
  dir: string;
  config: string;
  store: string;
  out: string;
}

export interface SetupOptions {
  resources?: string[];
  /** YAML appended to the config. */
  yaml?: string;
  /** The `list` settings, as YAML. */
  list?: string;
  /** The store's folder (default: `store` in the temporary folder). */
  store?: string;
  /** The `store.lock` settings, as YAML. */
  storeLock?: string;
  /** The file sink's folder, relative to the temporary folder (default `out`). */
  out?: string;
}

/** Writes a kubeconfig for `sim` and a config that collects from it into a store and exports to a file sink. */
export async function setup(sim: KubeSim, extra: SetupOptions = {}): Promise<Setup> {
  const dir = await tempDir('kollect-e2e-');
  const kubeconfig = join(dir, 'kubeconfig');
  await sim.writeKubeconfig(kubeconfig);
  const store = extra.store ?? join(dir, 'store');
  const out = join(dir, extra.out ?? 'out');
  const config = join(dir, 'kollect.yaml');
  await writeFile(
    config,
    [
      'cluster: e2e',
      `kube: { kubeconfig: ${JSON.stringify(kubeconfig)} }`,
      `list: ${extra.list ?? '{ pageSize: 500, retries: 4 }'}`,
      'resources:',
      ...(extra.resources ?? ALL_TYPES).map((r) => `  - ${r}`),
      `store: { dir: ${JSON.stringify(store)}${extra.storeLock ? `, lock: ${extra.storeLock}` : ''} }`,
      'sinks:',
      `  - { name: files, type: file, dir: ${JSON.stringify(out)} }`,
      extra.yaml ?? '',
    ].join('\n'),
  );
  return { dir, config, store, out };
}
