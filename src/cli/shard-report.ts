import { Command, Option } from 'commander';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { collect } from '../collect/collect.js';
import { ExitCode, UsageError } from '../errors.js';
import { KollectMetrics } from '../metrics/metrics.js';
import { kubeManifestShardSizes } from '../shards/kube-manifest-sizes.js';
import { resourceTypeKey } from '../rows/row.js';
import { buildShardReport, type IncompleteType, type ShardReport, type ShardSize } from '../shards/shard-report.js';
import type { ResourceStatus } from '../store/store-manifest.js';
import { CollectStore } from '../store/collect-store.js';
import { addConfigOptions, createLogger, formatTable, interactive, readConfig, readConfigOrDefaults, type ConfigFlags } from './common.js';
import { addKubeOptions, kubeClientFor, kubeOverrides, type KubeFlags } from './kube-options.js';
import { abortableSleep, withSignals } from './signals.js';
import { formatBytes, formatCount, quoted } from '../format.js';

interface ShardReportFlags extends ConfigFlags, KubeFlags {
  from?: string;
  manifests?: string[];
  format?: 'table' | 'json' | 'markdown';
  failOn: 'warn' | 'over';
}

const STATUS_MARK: Record<string, string> = { ok: 'ok', warn: 'WARN', over: 'OVER', 'too-large': 'TOO LARGE' };

export function formatReportTable(report: ShardReport): string {
  const t = report.thresholds;
  const table = formatTable(
    ['SHARD', 'ROWS', 'BYTES', 'STATUS', 'WHY'],
    report.shards.map((s) => [s.key, formatCount(s.rows), formatBytes(s.bytes), STATUS_MARK[s.status] ?? s.status, s.reason]),
    [1, 2],
  );
  const counts =
    `${report.totals.shards} shards, ${formatCount(report.totals.rows)} rows: ` +
    `${report.byStatus.ok} ok, ${report.byStatus.warn} warn, ${report.byStatus.over} over, ${report.byStatus['too-large']} too large`;
  const limits = `limits: warn at ${t.warnRows} rows or ${formatBytes(t.warnBytes)}, target ${t.targetRows} rows, PayloadTooLarge above ${t.maxRows} rows or ${formatBytes(t.maxBytes)}`;
  const verdicts: string[] = [];
  if (report.failing.length > 0) {
    verdicts.push(
      `FAIL: ${report.failing.length} shard(s) at or past "${report.failOn}": ${report.failing.slice(0, 10).join(', ')}${report.failing.length > 10 ? ', ...' : ''}`,
    );
  }
  if (report.failedTypes.length > 0) {
    verdicts.push(`FAIL: the list of ${report.failedTypes.join(', ')} did not complete; the counts above are too low`);
  }
  if (verdicts.length === 0)
    verdicts.push(`PASS: no shard at or past "${report.failOn}"${report.incomplete.length > 0 ? ' (rows of the incomplete types not counted)' : ''}`);
  const incomplete = incompleteLine(report);
  const title = report.cluster !== undefined ? `Shard report for cluster ${report.cluster}` : 'Shard report';
  return `${title} (${report.source})\n\n${table}\n${counts}\n${limits}\n${incomplete ? `${incomplete}\n` : ''}${verdicts.join('\n')}\n`;
}

/** The types whose rows are missing from the counts, or undefined when every list completed. */
function incompleteLine(report: ShardReport): string | undefined {
  if (report.incomplete.length === 0) return undefined;
  const types = report.incomplete.map((t) => `${t.resource} (${t.reason})`).join(', ');
  return `Incomplete: ${types}: their rows are missing or partial, so a shard may be larger than shown`;
}

export function formatReportMarkdown(report: ShardReport): string {
  const rows = report.shards.map(
    (s) => `| \`${s.key}\` | ${formatCount(s.rows)} | ${formatBytes(s.bytes)} | ${s.status === 'ok' ? 'ok' : `**${STATUS_MARK[s.status]}**: ${s.reason}`} |`,
  );
  const verdicts: string[] = [];
  if (report.failing.length > 0) verdicts.push(`:x: ${report.failing.length} shard(s) at or past \`${report.failOn}\``);
  if (report.failedTypes.length > 0)
    verdicts.push(`:x: the list of ${report.failedTypes.map((t) => `\`${t}\``).join(', ')} did not complete; the counts below are too low`);
  if (verdicts.length === 0) verdicts.push(`:white_check_mark: no shard at or past \`${report.failOn}\``);
  const incomplete = incompleteLine(report);
  return [
    `### kollect shard report${report.cluster !== undefined ? `: ${report.cluster}` : ''}`,
    '',
    ...verdicts.flatMap((v) => [v, '']),
    ...(incomplete ? [incomplete, ''] : []),
    '| shard | rows | bytes | status |',
    '| --- | ---: | ---: | --- |',
    ...rows,
    '',
    `${report.totals.shards} shards, ${formatCount(report.totals.rows)} rows. Keep shards under ${report.thresholds.targetRows} rows (warn at ${report.thresholds.warnRows}, PayloadTooLarge above ${report.thresholds.maxRows}) and ${formatBytes(report.thresholds.warnBytes)} (PayloadTooLarge above ${formatBytes(report.thresholds.maxBytes)}).`,
    '',
  ].join('\n');
}

/** The report's entries for types a list left incomplete (the store's or the collection's, already only those). */
function incompleteTypes(resources: ResourceStatus[]): IncompleteType[] {
  return resources.map((r) => ({ resource: resourceTypeKey(r), reason: r.reason ?? 'unknown' }));
}

const collectPaths = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

export function shardReportCommand(): Command {
  const command = new Command('shard-report').description(
    'Report rows, bytes and status per export shard from a collect store, a folder of manifests or the live cluster; exit 1 when a shard is over the limit or a list failed',
  );
  addConfigOptions(command);
  addKubeOptions(command);
  command
    .addOption(new Option('--from <dir>', 'read shard sizes from a saved collect store'))
    .addOption(new Option('--manifests <path>', 'count the objects of YAML/JSON manifests (file or folder, repeatable)').argParser(collectPaths))
    .addOption(new Option('--format <format>', 'table, json or markdown (default: table, or json with --output json)').choices(['table', 'json', 'markdown']))
    .addOption(new Option('--fail-on <status>', 'exit 1 when a shard reaches this status').choices(['warn', 'over']).default('over'))
    .addHelpText(
      'after',
      `
Statuses: ok; warn at warnRows (ExportShardWarning, default 1,800); over above targetRows (2,000);
too-large above maxRows (2,500) or maxBytes, where a monolithic payload fails with PayloadTooLarge.
A type whose list failed (live, or in the --from store) makes the counts too low: exit 1. A type
forbidden by RBAC (403) is named in the report and only warns, as in collect.

Examples:
  kollect shard-report --config kollect.yaml --from .kollect/store
  kollect shard-report --manifests deploy/ --format markdown --fail-on warn   (no kollect.yaml needed)
  kollect shard-report --config kollect.yaml --context staging --format json`,
    )
    .action(async (flags: ShardReportFlags, self: Command) => {
      if (flags.from !== undefined && flags.manifests !== undefined) throw new UsageError('use either --from or --manifests, not both');
      // Counting manifests needs no cluster or sink: a CI job runs it without a configuration file.
      const { config, named } =
        flags.manifests !== undefined ? await readConfigOrDefaults(flags, self) : { config: await readConfig(flags, kubeOverrides(flags)), named: true };
      let sizes: ShardSize[];
      let incomplete: IncompleteType[] = [];
      let source: string;
      let cluster = named ? config.cluster : undefined;
      if (flags.manifests !== undefined) {
        const kubeManifests = await kubeManifestShardSizes(flags.manifests, config);
        const log = createLogger({ json: !interactive() });
        // The file name is the repo's text: quoted, so that no control character reaches a terminal.
        for (const { file, where, message } of kubeManifests.warnings) log.warn(`${quoted(file)}, ${where}: ${message}`);
        sizes = kubeManifests.sizes;
        source = `manifests: ${flags.manifests.join(', ')}`;
      } else if (flags.from !== undefined) {
        // Only the store manifest is read: no spool file needs to stay open.
        const store = await CollectStore.open(flags.from);
        await store.close();
        sizes = store.shards.map(({ key, rows, bytes }) => ({ key, rows, bytes }));
        incomplete = incompleteTypes(store.incompleteResources());
        source = `store: ${store.dir}`;
        cluster = store.cluster;
      } else {
        // The live cluster: collect into a throw-away store, then read its store manifest.
        const dir = await mkdtemp(join(tmpdir(), 'kollect-shard-report-'));
        try {
          const client = await kubeClientFor(config);
          const result = await withSignals((signal) =>
            collect(
              { ...config, store: { ...config.store, dir: join(dir, 'store') } },
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
          incomplete = incompleteTypes(result.incomplete);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
        source = 'live cluster';
      }
      const report = buildShardReport({ source, cluster, sizes, thresholds: config.shards, failOn: flags.failOn, incomplete });
      const format = flags.format ?? (flags.output === 'json' ? 'json' : 'table');
      process.stdout.write(
        format === 'json' ? `${JSON.stringify(report, null, 2)}\n` : format === 'markdown' ? formatReportMarkdown(report) : formatReportTable(report),
      );
      if (report.failing.length > 0 || report.failedTypes.length > 0) process.exitCode = ExitCode.failed;
    });
  return command;
}
