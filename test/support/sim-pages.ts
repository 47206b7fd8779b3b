import { join } from 'node:path';
import { createKubeClient, type KubeClient } from '../../src/kube/client.js';
import { loadKubeConfig } from '../../src/kube/kubeconfig.js';
import { startKubeSim, type KubeSim, type KubeSimOptions } from './kube-sim/index.js';
import { RESOURCE_TYPES } from './kube-sim/resources.js';
import { tempDir } from './store-fixture.js';

/** The local API server and kollect's client of it, for tests that fetch pages as the server writes them. */
export interface SimClient {
  sim: KubeSim;
  client: KubeClient;
  close(): Promise<void>;
}

export async function startSimClient(options: KubeSimOptions): Promise<SimClient> {
  const sim = await startKubeSim(options);
  const kubeconfig = join(await tempDir('kollect-sim-client-'), 'kubeconfig');
  await sim.writeKubeconfig(kubeconfig);
  const client = createKubeClient(loadKubeConfig({ kubeconfig }));
  return {
    sim,
    client,
    close: async () => {
      client.close();
      await sim.close();
    },
  };
}

/** The cluster-wide list path of every type the local API server has objects of (one version per type). */
export const POPULATED_LISTS: ReadonlyArray<{ path: string; namespaced: boolean }> = RESOURCE_TYPES.filter((t) => t.population !== 'none').map((t) => ({
  path: t.group === '' ? `/api/${t.version}/${t.resource}` : `/apis/${t.group}/${t.version}/${t.resource}`,
  namespaced: t.namespaced,
}));

/**
 * A PartialObjectMetadataList as the API server writes it, of items with the given metadata
 * (JSON text); `listMetadata` is the list's own metadata, `tail` what follows the last item.
 */
export function metadataListPage(itemMetadata: readonly string[], listMetadata = '{"resourceVersion":"7"}', tail = ']}\n'): Buffer {
  const items = itemMetadata.map((meta) => `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":${meta}}`);
  return Buffer.from(`{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":${listMetadata},"items":[${items.join(',')}${tail}`);
}
