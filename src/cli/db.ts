import { Command, Option } from 'commander';
import type { KollectConfig, PostgresSinkConfig } from '../config/schema.js';
import { UsageError } from '../errors.js';
import { ddlText, MONTH_PARTITIONING_NOTE, type InitResult } from '../sinks/postgres/schema.js';
import { addConfigOptions, printResult, readConfig, type ConfigFlags } from './common.js';

interface DbFlags extends ConfigFlags {
  sink?: string;
}

interface InitFlags extends DbFlags {
  brin: boolean;
}

interface DdlFlags extends DbFlags {
  partitionBy?: 'cluster' | 'month';
  brin: boolean;
}

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

function formatInitResult(sink: string, result: InitResult): string {
  const lines = [`sink ${sink}: ${result.schema}.${result.table} (runs: ${result.schema}.${result.runsTable})`];
  if (result.createdSchema) lines.push(`  created schema ${result.schema}`);
  if (result.applied.length === 0) lines.push(`  schema is up to date (version ${result.version}); nothing to do`);
  for (const m of result.applied) lines.push(`  applied migration ${m.version}: ${m.description} (${m.table})`);
  if (result.brin === 'created') lines.push('  created BRIN index on exported_at');
  if (result.brin === 'exists') lines.push('  BRIN index on exported_at already exists');
  return `${lines.join('\n')}\n`;
}

export function dbCommand(): Command {
  const db = new Command('db').description('Prepare the PostgreSQL sink: create its tables, or print DDL for a DBA');

  addConfigOptions(
    db
      .command('init')
      .description('Create the items table, the runs table and the schema-version table (idempotent, additive only)')
      .addOption(new Option('--brin', 'also create a BRIN index on exported_at').default(false))
      .addOption(new Option('--sink <name>', 'the postgres sink to initialise (default: the only one)')),
  )
    .addHelpText('after', '\nExamples:\n  kollect db init --config kollect.yaml\n  kollect db init --config kollect.yaml --sink fleet-db --brin')
    .action(async (flags: InitFlags) => {
      const config = await readConfig(flags, { sinks: flags.sink === undefined ? undefined : [flags.sink] });
      const sink = selectPostgresSink(config, flags.sink);
      // pg loads only for the command that connects: every other command starts without it.
      const { initDatabase } = await import('../sinks/postgres/init-database.js');
      const result = await initDatabase(sink, { brin: flags.brin });
      printResult(flags.output, { sink: sink.name, ...result }, () => formatInitResult(sink.name, result));
    });

  addConfigOptions(
    db
      .command('ddl')
      .description('Print the DDL of the tables for a DBA to review and run (kollect never creates partitions itself)')
      .addOption(
        new Option('--partition-by <key>', 'partition the items table: LIST by cluster (month is refused, with the reason)').choices(['cluster', 'month']),
      )
      .addOption(new Option('--brin', 'include a BRIN index on exported_at').default(false))
      .addOption(new Option('--sink <name>', 'the postgres sink (default: the only one)')),
  )
    .addHelpText('after', '\nExamples:\n  kollect db ddl --config kollect.yaml\n  kollect db ddl --config kollect.yaml --partition-by cluster > kollect.sql')
    .action(async (flags: DdlFlags) => {
      if (flags.partitionBy === 'month') throw new UsageError(`--partition-by month would break the upsert key.\n${MONTH_PARTITIONING_NOTE.join('\n')}`);
      const config = await readConfig(flags, { sinks: flags.sink === undefined ? undefined : [flags.sink] });
      const sink = selectPostgresSink(config, flags.sink);
      const sql = ddlText(
        { schema: sink.schema, table: sink.table, runsTable: sink.runsTable },
        { ...(flags.partitionBy === 'cluster' ? { partitionBy: flags.partitionBy } : {}), brin: flags.brin, clusters: [config.cluster] },
      );
      printResult(flags.output, { sink: sink.name, sql }, () => sql);
    });
  return db;
}
