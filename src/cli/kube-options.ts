import { Option, type Command } from 'commander';
import type { KubeClient } from '../kube/client.js';
import type { KollectConfig } from '../config/schema.js';
import { positiveInt } from './common.js';

/** Flags that choose the cluster and tune listing; they override the config file. */
export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  pageSize?: number;
  concurrency?: number;
}

export function addKubeOptions(command: Command): Command {
  return command
    .addOption(new Option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, in-cluster service account, ~/.kube/config)'))
    .addOption(new Option('--context <name>', 'kubeconfig context to use'))
    .addOption(new Option('--page-size <n>', 'objects per list page (limit)').argParser(positiveInt))
    .addOption(new Option('--concurrency <n>', 'resource types listed at once').argParser(positiveInt));
}

/**
 * Builds the Kubernetes client. Reading the kubeconfig makes no request. @kubernetes/client-node
 * loads only here: `export --from` and `config validate` never need it, and it is most of start-up.
 */
export async function kubeClientFor(config: KollectConfig): Promise<KubeClient> {
  const [{ createKubeClient }, { loadKubeConfig }] = await Promise.all([import('../kube/client.js'), import('../kube/kubeconfig.js')]);
  return createKubeClient(loadKubeConfig({ kubeconfig: config.kube.kubeconfig, context: config.kube.context }));
}
