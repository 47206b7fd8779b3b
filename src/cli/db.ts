import { Command, InvalidArgumentError, Option } from 'commander';
import { duration, sqlIdentifier } from '../config/fields.js';
import type { KollectConfig, PostgresSinkConfig } from '../config/schema.js';
import { DEFAULT_HISTORY } from '../sinks/postgres/config.js';
import { UsageError } from '../errors.js';
import { ddlText, MONTH_PARTITIONING_NOTE } from '../sinks/postgres/ddl.js';
import type { InitResult } from '../sinks/postgres/init-schema.js';
import type { PruneResult } from '../sinks/postgres/prune-history.js';
import { nextMonth, tableNames, type Month, type TableNames } from '../sinks/postgres/schema.js';
import { addConfigOptions, positiveInt, printResult, readConfig, readConfigOrDefaults, type ConfigFlags } from './common.js';

interface DbFlags extends ConfigFlags {
  sink?: string;
}

interface InitFlags extends DbFlags {
  brin: boolean;
}

interface DdlFlags extends DbFlags {
  partitionBy: Array<'cluster' | 'month'>;
  brin: boolean;
  schema?: string;
  table?: string;
  history: boolean;
  historyMonths?: Month[];
}

interface PruneFlags extends DbFlags {
  olderThan: number;
  batchSize: number;
}

/** What `db ddl` prints for when no configuration file is there: one postgres sink with its defaults. */
const DEFAULT_POSTGRES = { sinks: [{ name: 'postgres', type: 'postgres' }] };

/** At most this many months in one `--history-months` range (ten years). */
const MAX_MONTHS = 120;

/**
 * The postgres sink a `db` command works on: the one named by --sink (readConfig keeps only it,
 * or refuses a name no sink has, as for every command), or the only postgres sink in the configuration.
 */
export function selectPostgresSink(config: KollectConfig, name?: string): PostgresSinkConfig {
  const postgres = config.sinks.filter((s): s is PostgresSinkConfig => s.type === 'postgres');
  if (name !== undefined && postgres.length === 0) throw new UsageError(`sink "${name}" is of type ${config.sinks[0]?.type}, not postgres`);
  if (postgres.length === 0) throw new UsageError('the configuration has no postgres sink');
  if (postgres.length > 1)
    throw new UsageError(`the configuration has several postgres sinks (${postgres.map((s) => s.name).join(', ')}); choose one with --sink NAME`);
  return postgres[0]!;
}

/** The postgres sink of the configuration file a `db` command names (see selectPostgresSink). */
async function configuredSink(flags: DbFlags): Promise<{ config: KollectConfig; sink: PostgresSinkConfig }> {
  const config = await readConfig(flags, { sinks: flags.sink === undefined ? undefined : [flags.sink] });
  return { config, sink: selectPostgresSink(config, flags.sink) };
}

function formatInitResult(sink: string, result: InitResult): string {
  const history = result.historyTable === undefined ? '' : `, changes: ${result.schema}.${result.historyTable}`;
  const lines = [`sink ${sink}: ${result.schema}.${result.table} (runs: ${result.schema}.${result.runsTable}${history})`];
  if (result.createdSchema) lines.push(`  created schema ${result.schema}`);
  if (result.applied.length === 0) lines.push(`  schema is up to date (version ${result.version}); nothing to do`);
  for (const m of result.applied) lines.push(`  applied migration ${m.version}: ${m.description} (${m.table})`);
  if (result.brin === 'created') lines.push('  created BRIN index on exported_at');
  if (result.brin === 'exists') lines.push('  BRIN index on exported_at already exists');
  return `${lines.join('\n')}\n`;
}

/** `--schema` / `--table`: a plain SQL identifier, as in the configuration. */
function identifierFlag(value: string): string {
  const parsed = sqlIdentifier.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? 'must be a SQL identifier.');
  return parsed.data;
}

/** `--partition-by`, which may be given twice (cluster for the items table, month for the changes table). */
function partitionKeys(value: string, previous: Array<'cluster' | 'month'>): Array<'cluster' | 'month'> {
  if (value !== 'cluster' && value !== 'month')
    throw new InvalidArgumentError('must be cluster (the items table) or month (the changes table, with --history).');
  return [...previous, value];
}

/** `2027-01..2027-06` (or one month, `2027-01`): the months, in order. */
export function monthRange(value: string): Month[] {
  const match = /^(\d{4})-(\d{2})(?:\.\.(\d{4})-(\d{2}))?$/.exec(value);
  const month = (year?: string, m?: string): Month => ({ year: Number(year), month: Number(m) });
  if (!match) throw new InvalidArgumentError('must be a month or a range of months, such as 2027-01..2027-06.');
  const first = month(match[1], match[2]);
  const last = match[3] === undefined ? first : month(match[3], match[4]);
  if ([first, last].some((m) => m.month < 1 || m.month > 12)) throw new InvalidArgumentError('months run from 01 to 12.');
  const months: Month[] = [];
  for (let m = first; m.year * 12 + m.month <= last.year * 12 + last.month; m = nextMonth(m)) {
    if (months.length === MAX_MONTHS) throw new InvalidArgumentError(`at most ${MAX_MONTHS} months at once.`);
    months.push(m);
  }
  if (months.length === 0) throw new InvalidArgumentError('the first month must not come after the last.');
  return months;
}

/** `90d`, `36h`: an age, as durations in the configuration. */
function ageFlag(value: string): number {
  const parsed = duration.safeParse(value);
  if (!parsed.success || parsed.data <= 0) throw new InvalidArgumentError('must be an age such as 90d, 36h or 1d12h.');
  return parsed.data;
}

/**
 * The tables `db ddl` prints: the configuration's postgres sink when the file is there (or
 * named), else the default names, as a DBA runs it with no kollect.yaml; `--schema` and
 * `--table` override either.
 */
async function ddlTables(flags: DdlFlags, command: Command): Promise<{ sink?: string; cluster?: string; names: TableNames }> {
  const { config, fromFile, named } = await readConfigOrDefaults(flags, command, DEFAULT_POSTGRES, {
    sinks: flags.sink === undefined ? undefined : [flags.sink],
  });
  const sink = selectPostgresSink(config, flags.sink);
  const names = {
    ...tableNames(sink),
    ...(flags.schema === undefined ? {} : { schema: flags.schema }),
    ...(flags.table === undefined ? {} : { table: flags.table }),
  };
  if (flags.history) names.historyTable ??= DEFAULT_HISTORY.table;
  if (names.table === names.runsTable || names.historyTable === names.table)
    throw new UsageError(`--table ${names.table} is already the name of the runs or changes table: each is a table of its own`);
  return { ...(fromFile ? { sink: sink.name } : {}), ...(named ? { cluster: config.cluster } : {}), names };
}

export function dbCommand(): Command {
  const db = new Command('db').description('Prepare the PostgreSQL sink: create its tables, print DDL for a DBA, prune its history');

  addConfigOptions(
    db
      .command('init')
      .description('Create the items table, the runs table, the changes table (with history) and the schema-version table (idempotent, additive only)')
      .addOption(new Option('--brin', 'also create a BRIN index on exported_at').default(false))
      .addOption(new Option('--sink <name>', 'the postgres sink to initialise (default: the only one)')),
  )
    .addHelpText('after', '\nExamples:\n  kollect db init --config kollect.yaml\n  kollect db init --config kollect.yaml --sink fleet-db --brin')
    .action(async (flags: InitFlags) => {
      const { sink } = await configuredSink(flags);
      // pg loads only for the command that connects: every other command starts without it.
      const { initDatabase } = await import('../sinks/postgres/init-database.js');
      const result = await initDatabase(sink, { brin: flags.brin });
      printResult(flags.output, { sink: sink.name, ...result }, () => formatInitResult(sink.name, result));
    });

  addConfigOptions(
    db
      .command('ddl')
      .description('Print the DDL of the tables for a DBA to review and run (kollect never creates partitions itself); needs no configuration file')
      .addOption(
        new Option(
          '--partition-by <key>',
          'cluster: the items table by LIST (cluster); month: the changes table by RANGE (changed_at), with --history (the items table by month is refused, with the reason); may be given twice',
        )
          .argParser(partitionKeys)
          .default([]),
      )
      .addOption(new Option('--brin', 'include a BRIN index on exported_at').default(false))
      .addOption(new Option('--history', "include the changes table (the sink's history.table, else kollect_changes)").default(false))
      .addOption(
        new Option('--history-months <range>', 'with --partition-by month: the partitions of these months, e.g. 2027-01..2027-06').argParser(monthRange),
      )
      .addOption(new Option('--schema <name>', "the schema (default: the configuration's, else public)").argParser(identifierFlag))
      .addOption(new Option('--table <name>', "the items table (default: the configuration's, else kollect_items)").argParser(identifierFlag))
      .addOption(new Option('--sink <name>', 'the postgres sink (default: the only one)')),
  )
    .addHelpText(
      'after',
      '\nExamples:\n  kollect db ddl > kollect.sql\n  kollect db ddl --config kollect.yaml --partition-by cluster > kollect.sql\n' +
        '  kollect db ddl --history --partition-by month --history-months 2027-01..2027-06 > kollect.sql',
    )
    .action(async (flags: DdlFlags, command: Command) => {
      const month = flags.partitionBy.includes('month');
      if (month && !flags.history) throw new UsageError(`--partition-by month would break the upsert key.\n${MONTH_PARTITIONING_NOTE.join('\n')}`);
      if (flags.historyMonths && !month)
        throw new UsageError('--history-months needs --history --partition-by month: only a partitioned changes table has months');
      const { sink, cluster, names } = await ddlTables(flags, command);
      const sql = ddlText(names, {
        ...(flags.partitionBy.includes('cluster') ? { partitionBy: 'cluster' as const } : {}),
        brin: flags.brin,
        clusters: cluster === undefined ? [] : [cluster],
        ...(flags.history ? { history: { partitioned: month, months: flags.historyMonths ?? [] } } : {}),
      });
      printResult(flags.output, { ...(sink === undefined ? {} : { sink }), sql }, () => sql);
    });

  addConfigOptions(
    db
      .command('prune-history')
      .description('Delete changes older than an age from an unpartitioned changes table, in batches (a partitioned one drops old months instead)')
      .addOption(new Option('--older-than <age>', 'delete the changes older than this, e.g. 90d').argParser(ageFlag).makeOptionMandatory())
      .addOption(new Option('--batch-size <rows>', 'rows deleted per transaction').argParser(positiveInt).default(10_000))
      .addOption(new Option('--sink <name>', 'the postgres sink (default: the only one)')),
  )
    .addHelpText('after', '\nExamples:\n  kollect db prune-history --config kollect.yaml --older-than 90d')
    .action(async (flags: PruneFlags) => {
      const { sink } = await configuredSink(flags);
      const { pruneHistory } = await import('../sinks/postgres/prune-history.js');
      const result: PruneResult = await pruneHistory(sink, { olderThanMs: flags.olderThan, batchSize: flags.batchSize });
      printResult(
        flags.output,
        { sink: sink.name, ...result },
        () => `sink ${sink.name}: deleted ${result.deleted} changes of ${result.table} older than ${result.cutoff} in ${result.batches} batches\n`,
      );
    });
  return db;
}
