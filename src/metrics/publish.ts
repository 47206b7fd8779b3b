import { Pushgateway } from 'prom-client';
import { MetricsPublishError } from '../errors.js';
import { writeFileAtomic } from '../fs/write-file-atomic.js';
import type { KollectMetrics } from './metrics.js';

/**
 * Writes the metrics in Prometheus text exposition format for node_exporter's textfile
 * collector, atomically: the collector never reads a half-written file.
 */
export async function writeMetricsFile(metrics: KollectMetrics, path: string): Promise<void> {
  await writeFileAtomic(path, await metrics.registry.metrics());
}

/** Pushes the metrics to a Pushgateway, grouped by job and cluster (a CronJob has no scrape target). */
export async function pushMetrics(metrics: KollectMetrics, url: string, cluster: string): Promise<void> {
  const gateway = new Pushgateway(url, { timeout: 10_000 }, metrics.registry);
  await gateway.pushAdd({ jobName: 'kollect', groupings: { cluster } });
}

/** The URL without credentials, for messages (a Pushgateway URL may carry basic auth). */
function withoutCredentials(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(invalid URL)';
  }
}

export interface PublishTargets {
  /** `--metrics-file`. */
  file?: string;
  /** `--pushgateway`. */
  pushgateway?: string;
  cluster: string;
}

/**
 * Publishes to every requested target, each independently (a Pushgateway that is down does not
 * stop the textfile), and returns the failures instead of throwing: publishing runs after the
 * run, whose result or error must not be replaced by a metrics problem.
 */
export async function publishMetrics(metrics: KollectMetrics, targets: PublishTargets): Promise<MetricsPublishError[]> {
  const failures: MetricsPublishError[] = [];
  const reason = (error: unknown): string => (error instanceof Error ? error.message : String(error));
  if (targets.file !== undefined) {
    try {
      await writeMetricsFile(metrics, targets.file);
    } catch (error) {
      failures.push(new MetricsPublishError(`writing the metrics file ${targets.file} failed: ${reason(error)}`, { target: 'file', file: targets.file }, { cause: error }));
    }
  }
  if (targets.pushgateway !== undefined) {
    const url = withoutCredentials(targets.pushgateway);
    try {
      await pushMetrics(metrics, targets.pushgateway, targets.cluster);
    } catch (error) {
      const message = reason(error).split(targets.pushgateway).join(url);
      failures.push(new MetricsPublishError(`pushing metrics to the Pushgateway ${url} failed: ${message}`, { target: 'pushgateway', url }, { cause: error }));
    }
  }
  return failures;
}
