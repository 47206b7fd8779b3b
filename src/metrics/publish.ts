import { readFile } from 'node:fs/promises';
import { Pushgateway, Registry } from 'prom-client';
import { MetricsPublishError } from '../errors.js';
import { writeFileAtomic } from '../fs/write-file-atomic.js';
import type { Logger } from '../log.js';
import { redact, redactUrl, urlSecrets } from '../redact.js';
import { lastSuccessGauge, type KollectMetrics } from './metrics.js';
import { parseLastSuccesses, type LastSuccessSample } from './parse-last-successes.js';

/** The job label of every group kollect pushes. */
const JOB = 'kollect';

/** The run a textfile is written for: which of the earlier file's last successes it keeps. */
export interface RunSinks {
  /** This cluster's name in the fleet: the label of the series kept, the key of the Pushgateway groups. */
  cluster: string;
  /** The sinks this run exports to. An earlier last success of any other sink is dropped. */
  sinks: ReadonlyArray<{ name: string; type: string }>;
  log: Logger;
}

/**
 * The last successes of this run's sinks in the file an earlier run wrote at `path`. A missing
 * or unreadable file is no error (the first run has none): it only costs a debug line.
 */
async function earlierLastSuccesses(path: string, { cluster, sinks, log }: RunSinks): Promise<LastSuccessSample[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    log.debug('no earlier metrics file to carry last successes over from', { file: path, reason: (error as NodeJS.ErrnoException).code ?? String(error) });
    return [];
  }
  const { samples, unreadable } = parseLastSuccesses(text);
  const kept: LastSuccessSample[] = [];
  for (const { labels, seconds } of samples) {
    const sink = sinks.find((s) => s.name === labels.sink && s.type === labels.type);
    if (sink && labels.cluster === cluster) kept.push({ labels: { cluster, sink: sink.name, type: sink.type }, seconds });
  }
  log.debug('read the last successes of the earlier metrics file', { file: path, sinks: kept.map((s) => s.labels.sink), unreadableLines: unreadable });
  return kept;
}

/**
 * Writes the metrics in Prometheus text exposition format for node_exporter's textfile
 * collector, atomically: the collector never reads a half-written file. The file holds this run,
 * and for each sink that did not succeed in it (it failed, the run stopped before it, a dry run)
 * the last success the file being replaced held: an alert on its age keeps counting instead of
 * seeing no series at all.
 */
async function writeMetricsFile(metrics: KollectMetrics, path: string, run: RunSinks): Promise<void> {
  const lastSuccesses = new Registry();
  const lastSuccess = lastSuccessGauge([lastSuccesses]);
  for (const { labels, seconds } of await earlierLastSuccesses(path, run)) lastSuccess.set(labels, seconds);
  for (const { labels, value } of (await metrics.lastSuccess.get()).values) lastSuccess.set(labels, value);
  await writeFileAtomic(path, await Registry.merge([metrics.registry, lastSuccesses]).metrics());
}

/**
 * Pushes the metrics to a Pushgateway (a CronJob has no scrape target). This run's metrics
 * replace the group {job, cluster} whole (PUT), so that it holds the last run, as the textfile
 * does; a POST would keep every family this run has no sample of (a resource type forbidden
 * weeks ago, still counted). Each sink's last success goes to a group of its own
 * {job, cluster, sink}, pushed only when the sink succeeded: a push replaces a metric's series
 * of every sink in its group, so in one group a failed sink's last success would vanish as soon
 * as another sink succeeded.
 */
async function pushMetrics(metrics: KollectMetrics, url: string, cluster: string): Promise<void> {
  const options = { timeout: 10_000 };
  // The run's group first: one that an earlier kollect pushed may still hold last successes, and
  // the Pushgateway refuses a push that repeats a series of another group.
  await new Pushgateway(url, options, metrics.registry).push({ jobName: JOB, groupings: { cluster } });
  await Promise.all(
    (await metrics.lastSuccess.get()).values.map(({ labels, value }) => {
      const registry = new Registry();
      lastSuccessGauge([registry]).set(labels, value);
      return new Pushgateway(url, options, registry).push({ jobName: JOB, groupings: { cluster, sink: String(labels.sink) } });
    }),
  );
}

export interface PublishTargets extends RunSinks {
  /** `--metrics-file`. */
  file?: string;
  /** `--pushgateway`. */
  pushgateway?: string;
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
      await writeMetricsFile(metrics, targets.file, targets);
    } catch (error) {
      failures.push(
        new MetricsPublishError(`writing the metrics file ${targets.file} failed: ${reason(error)}`, { target: 'file', file: targets.file }, { cause: error }),
      );
    }
  }
  if (targets.pushgateway !== undefined) {
    // A Pushgateway URL may carry basic auth or a token in its query: messages show neither.
    const secrets = urlSecrets(targets.pushgateway);
    const url = redactUrl(targets.pushgateway);
    try {
      await pushMetrics(metrics, targets.pushgateway, targets.cluster);
    } catch (error) {
      failures.push(
        new MetricsPublishError(
          `pushing metrics to the Pushgateway ${url} failed: ${redact(reason(error), secrets)}`,
          { target: 'pushgateway', url },
          { cause: error },
        ),
      );
    }
  }
  return failures;
}
