import { Command, CommanderError } from 'commander';
import { ExitCode, toKollectError, type KollectError } from '../errors.js';
import { collectCommand } from './collect.js';
import { configCommand } from './config.js';
import { dbCommand } from './db.js';
import { exportCommand } from './export.js';
import { shardReportCommand } from './shard-report.js';
import { VERSION } from '../version.js';

export function buildProgram(): Command {
  const program = new Command('kollect')
    .description(
      'Export Kubernetes inventory: list resources with paginated API calls, project each object into a lean row, ' +
        'group rows into per-namespace shards and export them to PostgreSQL, Git and files.',
    )
    .version(VERSION, '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .configureHelp({ sortSubcommands: false, showGlobalOptions: true })
    .addHelpText(
      'after',
      `
Exit codes:
  0  success
  1  a run failed (a sink, the API, a shard over the limit in shard-report)
  2  usage or configuration error (nothing was touched)

Examples:
  kollect config validate kollect.yaml
  kollect collect --config kollect.yaml
  kollect export --config kollect.yaml --from .kollect/store --dry-run
  kollect shard-report --config kollect.yaml --from .kollect/store --format markdown
  kollect db init --config kollect.yaml --brin`,
    );
  program.addCommand(collectCommand());
  program.addCommand(exportCommand());
  program.addCommand(shardReportCommand());
  program.addCommand(configCommand());
  program.addCommand(dbCommand());
  return program;
}

/** Writes an error for a user (text) and returns its exit code. */
function report(error: KollectError, json: boolean): number {
  if (json) process.stderr.write(`${JSON.stringify({ level: 'error', ...error.toJSON() })}\n`);
  else process.stderr.write(`kollect: ${error.message}\n`);
  if (error.code === 'INTERNAL' && error.cause instanceof Error && error.cause.stack) process.stderr.write(`${error.cause.stack}\n`);
  return error.exitCode;
}

/** The only place that turns an outcome into an exit code and calls process.exit. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  // Usage mistakes in any subcommand must reach the catch below (exit 2), not process.exit(1).
  const throwInsteadOfExit = (command: Command): void => {
    command.exitOverride();
    command.commands.forEach(throwInsteadOfExit);
  };
  throwInsteadOfExit(program);
  let code: number = ExitCode.ok;
  try {
    await program.parseAsync(argv);
    code = process.exitCode === undefined ? ExitCode.ok : Number(process.exitCode);
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end here with code 0; usage mistakes with 2.
      code = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    } else {
      const jsonLogs = !process.stderr.isTTY || argv.includes('json');
      code = report(toKollectError(error), jsonLogs);
    }
  }
  process.exit(code);
}
