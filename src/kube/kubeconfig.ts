import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from './client-node.js';
import { KubeConfigError } from '../errors.js';

export interface KubeConfigSource {
  /** An explicit kubeconfig file (`--kubeconfig` or `kube.kubeconfig` in the config). */
  kubeconfig?: string;
  /** A context of that kubeconfig other than its current one. */
  context?: string;
}

/** What js-yaml's YAMLException carries besides its message. */
interface YamlSyntaxError {
  reason: string;
  mark: { line: number; column: number };
}

function isYamlSyntaxError(error: unknown): error is YamlSyntaxError {
  const e = error as Partial<YamlSyntaxError> | null;
  return typeof e?.reason === 'string' && typeof e.mark?.line === 'number' && typeof e.mark.column === 'number';
}

/**
 * The error for a kubeconfig that would not load. A YAML syntax error says its reason and where,
 * and nothing else: js-yaml's message ends with a code frame of the lines around the fault, which
 * in a kubeconfig are as likely as not a bearer token or a client key. The error is not kept as
 * the cause either, for the same reason.
 */
function loadFailure(what: string, error: unknown): KubeConfigError {
  if (isYamlSyntaxError(error)) {
    const { line, column } = error.mark;
    return new KubeConfigError(`cannot load the kubeconfig from ${what}: not valid YAML at line ${line + 1}, column ${column + 1}: ${error.reason}`, {
      source: what,
      line: line + 1,
      column: column + 1,
    });
  }
  return new KubeConfigError(
    `cannot load the kubeconfig from ${what}: ${error instanceof Error ? error.message : String(error)}`,
    { source: what },
    { cause: error },
  );
}

/** Where the in-cluster service account's token is mounted. */
const SERVICE_ACCOUNT_TOKEN = '/var/run/secrets/kubernetes.io/serviceaccount/token';

/**
 * Loads the cluster's credentials the way an operator expects: `--kubeconfig`, then `KUBECONFIG`
 * (several files merged, as kubectl does), then the in-cluster service account (the CronJob),
 * then `~/.kube/config`. Unlike the client's `loadFromDefault`, finding none is an error rather
 * than a silent `http://localhost:8080`. Makes no request.
 */
export function loadKubeConfig(source: KubeConfigSource, env: NodeJS.ProcessEnv = process.env): KubeConfig {
  const kc = new KubeConfig();
  const home = join(homedir(), '.kube', 'config');
  const from = (what: string, load: () => void): void => {
    try {
      load();
    } catch (error) {
      throw loadFailure(what, error);
    }
  };
  if (source.kubeconfig !== undefined) {
    const file = source.kubeconfig;
    from(file, () => kc.loadFromFile(file));
  } else if (env.KUBECONFIG) {
    from(`KUBECONFIG (${env.KUBECONFIG})`, () => kc.loadFromDefault());
  } else if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) {
    from('the in-cluster service account', () => kc.loadFromCluster());
  } else if (existsSync(home)) {
    from(home, () => kc.loadFromFile(home));
  } else {
    throw new KubeConfigError(
      'no kubeconfig found: pass --kubeconfig FILE, set KUBECONFIG, set kube.kubeconfig in the config, or run in a pod with a service account',
    );
  }

  if (source.context !== undefined) {
    if (!kc.getContextObject(source.context)) {
      const known = kc.getContexts().map((c) => c.name);
      throw new KubeConfigError(`context "${source.context}" is not in the kubeconfig; it has: ${known.join(', ') || 'no context'}`, {
        context: source.context,
      });
    }
    kc.setCurrentContext(source.context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new KubeConfigError(`the kubeconfig's current context "${kc.getCurrentContext()}" names no cluster; choose one with --context`, {
      context: kc.getCurrentContext(),
    });
  }
  if (cluster.server.startsWith('http:') && !cluster.skipTLSVerify) {
    // Same rule as @kubernetes/client-node: plain HTTP must be asked for explicitly.
    throw new KubeConfigError(
      `cluster "${cluster.name}" uses plain HTTP (${cluster.server}) without insecure-skip-tls-verify: true; use https or say so in the kubeconfig`,
      {
        cluster: cluster.name,
      },
    );
  }
  return kc;
}
