import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from '../config/load.js';
import { sqlIdentifier } from '../config/fields.js';
import { sinkConfig, type PostgresSinkConfig } from '../config/schema.js';
import { DEFAULT_HISTORY } from '../sinks/postgres/config.js';
import { UsageError } from '../errors.js';
import type { HistorySource } from '../history/read-history.js';
import { formatAsOf, formatChanges } from './changes-output.js';
import { DEFAULT_CONFIG_FILE, positiveInt, present, printResult } from './common.js';
import { selectPostgresSink } from './db.js';
import { pointInTime } from './time-flags.js';

interface ChangesFlags {
  config?: string;
  sink?: string;
  cluster?: string;
  namespace?: string;
  kind?: string;
  name?: string;
  since?: Date;
  until?: Date;
  asOf?: Date;
  limit: number;
  schema?: string;
  historyTable?: string;
  output: 'table' | 'json';
}

/** The name errors give the sink made from DATABASE_URL when there is no configuration file. */
const DATABASE_URL_SINK = 'database-url';
/** Changes (or objects) printed when --limit is not given: a screenful or two, and a bounded query. */
const DEFAULT_LIMIT = 500;
const DEFAULT_SINCE = '24h';

function identifier(value: string): string {
  if (!sqlIdentifier.safeParse(value).success) throw new InvalidArgumentError('must be a SQL identifier: letters, digits and "_", not starting with a digit.');
  return value;
}

/**
 * The database to read and the cluster a config file names: the postgres sink of the file
 * (--config, KOLLECT_CONFIG, or kollect.yaml when it exists), else one made from DATABASE_URL
 * with the default table names. --schema and --history-table override either.
 */
async function historySource(flags: ChangesFlags): Promise<{ source: HistorySource; configCluster?: string }> {
  const file = flags.config ?? ((await present(DEFAULT_CONFIG_FILE)) ? DEFAULT_CONFIG_FILE : undefined);
  let sink: PostgresSinkConfig;
  let configCluster: string | undefined;
  if (file !== undefined) {
    const config = await loadConfig(file, { sinks: flags.sink === undefined ? undefined : [flags.sink] });
    sink = selectPostgresSink(config, flags.sink);
    configCluster = config.cluster;
  } else {
    if (flags.sink !== undefined) throw new UsageError(`--sink ${flags.sink} needs a configuration file (--config FILE), and there is none`);
    if (!process.env.DATABASE_URL) {
      throw new UsageError(
        `no configuration file (${DEFAULT_CONFIG_FILE} here, or --config FILE) and DATABASE_URL is not set: give one of them, so that kollect changes finds the database`,
      );
    }
    const parsed = sinkConfig.parse({ name: DATABASE_URL_SINK, type: 'postgres' });
    if (parsed.type !== 'postgres') throw new Error('the sink made from DATABASE_URL is a postgres sink');
    sink = parsed;
  }
  if (flags.schema !== undefined) sink = { ...sink, schema: flags.schema };
  // A sink without history may still have a table from when it had: read the default one.
  const changesTable = flags.historyTable ?? (sink.history ? sink.history.table : DEFAULT_HISTORY.table);
  return { source: { sink, changesTable }, configCluster };
}

export function changesCommand(): Command {
  return new Command('changes')
    .description(
      'What changed in the inventory, newest first, from the history a postgres sink records (history: true); or, with --as-of, a namespace as it was',
    )
    .addOption(
      new Option('-c, --config <file>', `configuration file; its postgres sink is read (default: ${DEFAULT_CONFIG_FILE} if it exists, else DATABASE_URL)`).env(
        'KOLLECT_CONFIG',
      ),
    )
    .addOption(new Option('--sink <name>', 'the postgres sink to read (default: the only one)'))
    .addOption(
      new Option('--since <time>', `changes at or after this time: a span back from now (30m, 24h, 7d) or RFC 3339 (default: ${DEFAULT_SINCE})`).argParser(
        (v) => pointInTime(v),
      ),
    )
    .addOption(new Option('--until <time>', 'changes before this time (same forms as --since)').argParser((v) => pointInTime(v)))
    .addOption(new Option('--cluster <name>', "only this cluster (--as-of: default the configuration file's cluster)"))
    .addOption(new Option('-n, --namespace <name>', 'only this namespace ("" for cluster-scoped objects)'))
    .addOption(new Option('--kind <kind>', 'only this kind (Pod) or resource (pods)'))
    .addOption(new Option('--name <name>', 'only objects of this name'))
    .addOption(
      new Option('--as-of <time>', 'print the namespace (--namespace) as it was at this time instead, rebuilt from the changes since')
        .argParser((v) => pointInTime(v))
        .conflicts(['since', 'until']),
    )
    .addOption(new Option('--limit <n>', 'print at most this many changes or objects, and say when more matched').argParser(positiveInt).default(DEFAULT_LIMIT))
    .addOption(new Option('--schema <name>', "the tables' schema (default: the sink's, else public)").argParser(identifier))
    .addOption(
      new Option('--history-table <name>', `the changes table (default: the sink's history.table, else ${DEFAULT_HISTORY.table})`).argParser(identifier),
    )
    .addOption(new Option('-o, --output <format>', 'result format').choices(['table', 'json']).default('table'))
    .addHelpText(
      'after',
      `
Examples:
  kollect changes --config kollect.yaml --since 24h --namespace shop
  kollect changes --since 7d --kind Deployment --output json
  DATABASE_URL=... kollect changes --cluster prod-eu-1 --name web-7d4b9 --since 14d
  kollect changes --config kollect.yaml --as-of 2026-12-07T09:00:00Z --namespace shop`,
    )
    .action(async (flags: ChangesFlags) => {
      const { source, configCluster } = await historySource(flags);
      const output = flags.output === 'json' ? 'json' : 'text';
      // pg loads only for the commands that connect.
      const { listChanges, namespaceAsOf } = await import('../history/read-history.js');
      if (flags.asOf === undefined) {
        const since = flags.since ?? pointInTime(DEFAULT_SINCE);
        const filter = {
          since,
          until: flags.until,
          cluster: flags.cluster,
          namespace: flags.namespace,
          kind: flags.kind,
          name: flags.name,
          limit: flags.limit,
        };
        const result = await listChanges(source, filter);
        printResult(output, result, () => formatChanges(result));
        return;
      }
      if (flags.namespace === undefined) throw new UsageError('--as-of needs --namespace: it rebuilds one namespace as it was');
      const cluster = flags.cluster ?? configCluster;
      if (cluster === undefined) throw new UsageError('--as-of needs --cluster (or a configuration file that names the cluster)');
      const query = { cluster, namespace: flags.namespace, asOf: flags.asOf, kind: flags.kind, name: flags.name, limit: flags.limit };
      const result = await namespaceAsOf(source, query);
      printResult(output, result, () => formatAsOf(result));
    });
}
