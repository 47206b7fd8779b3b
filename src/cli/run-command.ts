import { Command, Option } from 'commander';
import { runExport, type RunResult } from '../run.js';
import { ExitCode, type MetricsPublishError } from '../errors.js';
import { KollectMetrics } from '../metrics/metrics.js';
import { publishMetrics } from '../metrics/publish.js';
import { addConfigOptions, createLogger, interactive, printResult, readConfig, type ConfigFlags } from './common.js';
import { addKubeOptions, kubeClientFor, kubeOverrides, type KubeFlags } from './kube-options.js';
import { formatRunSummary } from './run-output.js';
import { abortableSleep, withSignals } from './signals.js';
import { formatCount } from '../format.js';

interface RunFlags extends ConfigFlags, KubeFlags {
  store?: string;
  sink?: string[];
  dryRun: boolean;
  force: boolean;
  from?: string;
  verbose: boolean;
  metricsFile?: string;
  pushgateway?: string;
}

const collectSink = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

/** A run's result, and what went wrong publishing its metrics afterwards. */
interface Executed {
  result: RunResult;
  publishFailures: MetricsPublishError[];
}

async function execute(flags: RunFlags): Promise<Executed> {
  // Config first: a broken file exits 2 before any request reaches the cluster or a sink.
  const config = await readConfig(flags, {
    ...kubeOverrides(flags),
    storeDir: flags.store,
    sinks: flags.sink,
  });
  // A terminal without columns (script(1), some CI runners) cannot redraw a spinner line.
  // ora clears the spinner around every other write to stderr while it spins: log lines print above it.
  let status = flags.from === undefined ? 'discovering resource types' : 'exporting';
  const spinner =
    interactive() && flags.output === 'text' && (process.stderr.columns ?? 0) > 0
      ? (await import('ora')).default({ stream: process.stderr, text: status }).start()
      : undefined;
  const log = createLogger({ json: !interactive(), verbose: flags.verbose });
  const metrics = new KollectMetrics();
  let publishFailures: MetricsPublishError[] = [];
  // Not awaited here: the collection awaits it once its list workers are starting, and a broken
  // kubeconfig fails there (the handler only keeps the rejection from counting as unhandled meanwhile).
  const client = flags.from === undefined ? kubeClientFor(config) : undefined;
  client?.catch(() => undefined);
  let result: RunResult;
  try {
    result = await withSignals(async (signal) =>
      runExport({
        config,
        ...(flags.from !== undefined ? { fromStore: flags.from } : {}),
        dryRun: flags.dryRun,
        force: flags.force,
        deps: {
          ...(client ? { client } : {}),
          log,
          metrics,
          signal,
          sleep: abortableSleep,
          random: Math.random,
          now: () => new Date(),
          onProgress: spinner
            ? (p) => {
                status = `listing: ${formatCount(p.rows)} rows, ${p.typesDone}/${p.typesTotal} resource types done`;
                spinner.text = status;
              }
            : undefined,
          // Without it, a person at a terminal would watch an unchanged line through every backoff.
          onRetry: spinner
            ? (retry) => {
                // A broken connection's reason names the request already; a status (429, 500) does not.
                const after = retry.reason.startsWith('GET ') ? retry.reason : `GET ${retry.path.split('?')[0]}: ${retry.reason}`;
                spinner.text = `${status} (retry ${retry.attempt} of ${config.list.retries} in ${(retry.delayMs / 1000).toFixed(1)} s after ${after})`;
              }
            : undefined,
        },
      }),
    );
  } finally {
    spinner?.stop();
    // Published whatever the outcome: a failed run is exactly what the alert needs to see. A
    // publishing failure is logged and never replaces the run's own result or error.
    // An empty value (an unset optional Secret key rendered as '') means no target.
    publishFailures = await publishMetrics(metrics, {
      file: flags.metricsFile || undefined,
      pushgateway: flags.pushgateway || undefined,
      cluster: config.cluster,
      sinks: config.sinks,
      log,
    });
    for (const failure of publishFailures) log.error(failure.message, failure.toJSON());
  }
  return { result, publishFailures };
}

/** `collect` and `export` share their flags and their core call; `export` adds --from. */
export function runCommand(name: 'collect' | 'export'): Command {
  const command = new Command(name);
  if (name === 'collect') {
    command.description('List the cluster, spool rows into the collect store, and export them to every configured sink');
  } else {
    command
      .description('Export a saved collect store (--from) or a fresh collection to the configured sinks; with --dry-run, show what would change')
      .addOption(new Option('--from <dir>', 'export this saved collect store instead of listing the cluster'));
  }
  addConfigOptions(command);
  addKubeOptions(command);
  command
    .addOption(new Option('--store <dir>', 'collect store folder (overrides store.dir)'))
    .addOption(new Option('--sink <name>', 'export only to this sink (repeatable)').argParser(collectSink))
    .addOption(new Option('--dry-run', 'plan every sink and print what would change; write nothing').default(false))
    .addOption(new Option('--force', 'export to Git even if exportMinInterval has not passed').default(false))
    .addOption(new Option('--metrics-file <file>', 'write Prometheus metrics here (node_exporter textfile format, atomically)').env('KOLLECT_METRICS_FILE'))
    // From the environment too: a URL with basic auth belongs in a Secret, never in the command line.
    .addOption(new Option('--pushgateway <url>', 'push Prometheus metrics to this Pushgateway').env('KOLLECT_PUSHGATEWAY'))
    .addOption(new Option('-v, --verbose', 'log debug lines (retries, skips)').default(false))
    .action(async (flags: RunFlags) => {
      const { result, publishFailures } = await execute(flags);
      printResult(flags.output, result, () => formatRunSummary(result));
      if (!result.ok || publishFailures.length > 0) process.exitCode = ExitCode.failed;
    });
  return command;
}
