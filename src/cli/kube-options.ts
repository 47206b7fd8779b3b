import { InvalidArgumentError, Option, type Command } from 'commander';
import type { KubeClient } from '../kube/client.js';
import type { ConfigOverrides } from '../config/load.js';
import type { KollectConfig } from '../config/schema.js';
import { positiveInt } from './common.js';

/** Flags that choose the cluster and tune listing; they override the config file. */
export interface KubeFlags {
  kubeconfig?: string;
  context?: string;
  pageSize?: number;
  concurrency?: number;
  workers?: number | 'auto';
  namespace?: string[];
  allNamespaces?: boolean;
  selector?: string;
}

/** `-n a -n b` or `-n a,b`: namespaces (or globs) to include. */
const collectNamespaces = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), ...value.split(',').filter((n) => n !== '')];

/** `auto` or a whole number of threads from 0 to 16, as `list.workers` takes. */
function workersArg(value: string): number | 'auto' {
  if (value === 'auto') return 'auto';
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 16) throw new InvalidArgumentError('must be auto or a whole number of threads from 0 to 16.');
  return n;
}

export function addKubeOptions(command: Command): Command {
  return command
    .addOption(new Option('--kubeconfig <file>', 'kubeconfig file (default: $KUBECONFIG, in-cluster service account, ~/.kube/config)'))
    .addOption(new Option('--context <name>', 'kubeconfig context to use'))
    .addOption(new Option('--page-size <n>', 'objects per list page (limit)').argParser(positiveInt))
    .addOption(new Option('--concurrency <n>', 'resource types listed at once').argParser(positiveInt))
    .addOption(new Option('--workers <n>', 'threads that parse and project pages: auto, or 0 to 16 (0: all on the main thread)').argParser(workersArg))
    .addOption(
      new Option('-n, --namespace <name>', 'list only this namespace (a glob such as team-*; repeatable; overrides namespaces)').argParser(collectNamespaces),
    )
    .addOption(new Option('-A, --all-namespaces', 'list every namespace (overrides namespaces)').conflicts('namespace'))
    .addOption(
      new Option('-l, --selector <selector>', "label selector the API server applies to every resource type, with each one's own (app=web,tier!=cache)"),
    );
}

/** What the kube flags override in the config file. */
export function kubeOverrides(
  flags: KubeFlags,
): Pick<ConfigOverrides, 'kubeconfig' | 'context' | 'pageSize' | 'concurrency' | 'workers' | 'namespaces' | 'labelSelector'> {
  return {
    kubeconfig: flags.kubeconfig,
    context: flags.context,
    pageSize: flags.pageSize,
    concurrency: flags.concurrency,
    workers: flags.workers,
    namespaces: flags.allNamespaces ? ['*'] : flags.namespace,
    labelSelector: flags.selector,
  };
}

/**
 * Builds the Kubernetes client. Reading the kubeconfig makes no request. @kubernetes/client-node
 * loads only here: `export --from` and `config validate` never need it, and it is most of start-up.
 */
export async function kubeClientFor(config: KollectConfig): Promise<KubeClient> {
  const [{ createKubeClient }, { loadKubeConfig }] = await Promise.all([import('../kube/client.js'), import('../kube/kubeconfig.js')]);
  return createKubeClient(loadKubeConfig({ kubeconfig: config.kube.kubeconfig, context: config.kube.context }));
}
