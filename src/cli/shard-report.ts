import { Command, Option } from 'commander';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect } from '../collect/collect.js';
import { ExitCode, UsageError } from '../errors.js';
import { KollectMetrics } from '../metrics/metrics.js';
import { manifestShardSizes } from '../shards/manifest-sizes.js';
import { buildShardReport, type ShardReport, type ShardSize } from '../shards/shard-report.js';
import { CollectStore } from '../store/collect-store.js';
import { addConfigOptions, createLogger, formatTable, interactive, readConfig, type ConfigFlags } from './common.js';
import { addKubeOptions, kubeClientFor, type KubeFlags } from './kube-options.js';
import { abortableSleep, withSignals } from './signals.js';

interface ShardReportFlags extends ConfigFlags, KubeFlags {
  from?: string;
  manifests?: string[];
  format?: 'table' | 'json' | 'markdown';
  failOn: 'warn' | 'over';
}

const STATUS_MARK: Record<string, string> = { ok: 'ok', warn: 'WARN', over: 'OVER', 'too-large': 'TOO LARGE' };

function formatBytes(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(2)} MiB`;
}

export function formatReportTable(report: ShardReport): string {
  const t = report.thresholds;
  const table = formatTable(
    ['SHARD', 'ROWS', 'BYTES', 'STATUS'],
    report.shards.map((s) => [s.key, s.rows.toLocaleString('en-US'), formatBytes(s.bytes), STATUS_MARK[s.status] ?? s.status]),
    [1, 2],
  );
  const counts = `${report.totals.shards} shards, ${report.totals.rows.toLocaleString('en-US')} rows: ` +
    `${report.byStatus.ok} ok, ${report.byStatus.warn} warn, ${report.byStatus.over} over, ${report.byStatus['too-large']} too large`;
  const limits = `limits: warn ${t.warnRows} rows, target ${t.targetRows}, PayloadTooLarge above ${t.maxRows} rows or ${formatBytes(t.maxBytes)}`;
  const verdict = report.failing.length === 0
    ? `PASS: no shard at or past "${report.failOn}"`
    : `FAIL: ${report.failing.length} shard(s) at or past "${report.failOn}": ${report.failing.slice(0, 10).join(', ')}${report.failing.length > 10 ? ', ...' : ''}`;
  return `Shard report for cluster ${report.cluster} (${report.source})\n\n${table}\n${counts}\n${limits}\n${verdict}\n`;
}

export function formatReportMarkdown(report: ShardReport): string {
  const rows = report.shards.map((s) => `| \`${s.key}\` | ${s.rows.toLocaleString('en-US')} | ${formatBytes(s.bytes)} | ${s.status === 'ok' ? 'ok' : `**${STATUS_MARK[s.status]}**`} |`);
  const verdict = report.failing.length === 0 ? `:white_check_mark: no shard at or past \`${report.failOn}\`` : `:x: ${report.failing.length} shard(s) at or past \`${report.failOn}\``;
  return [
    `### kollect shard report: ${report.cluster}`,
    '',
    verdict,
    '',
    '| shard | rows | bytes | status |',
    '| --- | ---: | ---: | --- |',
    ...rows,
    '',
    `${report.totals.shards} shards, ${report.totals.rows.toLocaleString('en-US')} rows. Keep shards under ${report.thresholds.targetRows} rows (warn at ${report.thresholds.warnRows}, PayloadTooLarge above ${report.thresholds.maxRows}).`,
    '',
  ].join('\n');
}

const collectPaths = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function shardReportCommand(): Command {
  const command = new Command('shard-report').description(
    'Report rows, bytes and status per export shard from a collect store, a folder of manifests or the live cluster; exit 1 when a shard is too large',
  );
  addConfigOptions(command);
  addKubeOptions(command);
  command
    .addOption(new Option('--from <dir>', 'read shard sizes from a saved collect store'))
    .addOption(new Option('--manifests <path>', 'count the objects of YAML/JSON manifests (file or folder, repeatable)').argParser(collectPaths))
    .addOption(new Option('--format <format>', 'table (default on a terminal), json or markdown').choices(['table', 'json', 'markdown']))
    .addOption(new Option('--fail-on <status>', 'exit 1 when a shard reaches this status').choices(['warn', 'over']).default('over'))
    .addHelpText(
      'after',
      `
Statuses: ok; warn at warnRows (ExportShardWarning, default 1,800); over above targetRows (2,000);
too-large above maxRows (2,500) or maxBytes, where a monolithic payload fails with PayloadTooLarge.

Examples:
  kollect shard-report --config kollect.yaml --from .kollect/store
  kollect shard-report --config kollect.yaml --manifests deploy/ --format markdown --fail-on warn
  kollect shard-report --config kollect.yaml --context staging --format json`,
    )
    .action(async (flags: ShardReportFlags) => {
      if (flags.from !== undefined && flags.manifests !== undefined) throw new UsageError('use either --from or --manifests, not both');
      const config = await readConfig(flags, { kubeconfig: flags.kubeconfig, context: flags.context, pageSize: flags.pageSize, concurrency: flags.concurrency });
      let sizes: ShardSize[];
      let source: string;
      let cluster = config.cluster;
      if (flags.manifests !== undefined) {
        sizes = await manifestShardSizes(flags.manifests, config);
        source = `manifests: ${flags.manifests.join(', ')}`;
      } else if (flags.from !== undefined) {
        const store = await CollectStore.open(flags.from);
        sizes = store.shards.map(({ key, rows, bytes }) => ({ key, rows, bytes }));
        source = `store: ${store.dir}`;
        cluster = store.cluster;
      } else {
        // The live cluster: collect into a throw-away store, then read its manifest.
        const dir = await mkdtemp(join(tmpdir(), 'kollect-shard-report-'));
        try {
          const client = await kubeClientFor(config);
          const result = await withSignals((signal) =>
            collect(
              { ...config, store: { dir: join(dir, 'store') } },
              {
                client,
                log: createLogger({ json: !interactive() }),
                metrics: new KollectMetrics(),
                signal,
                sleep: abortableSleep,
                random: Math.random,
              },
            ),
          );
          sizes = result.manifest.shards.map(({ key, rows, bytes }) => ({ key, rows, bytes }));
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
        source = 'live cluster';
      }
      const report = buildShardReport({ source, cluster, sizes, thresholds: config.shards, failOn: flags.failOn });
      const format = flags.format ?? (flags.output === 'json' ? 'json' : 'table');
      process.stdout.write(
        format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : format === 'markdown' ? formatReportMarkdown(report) : formatReportTable(report),
      );
      if (report.failing.length > 0) process.exitCode = ExitCode.failed;
    });
  return command;
}
