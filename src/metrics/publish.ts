import { Pushgateway } from 'prom-client';
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
