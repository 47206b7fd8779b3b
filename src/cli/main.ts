import { Command, CommanderError } from 'commander';
import { ExitCode, toKollectError, UsageError, type KollectError } from '../errors.js';
import { escapeUnprintable } from '../format.js';
import { interactive } from './common.js';
import { changesCommand } from './changes.js';
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
        'group rows into per-namespace shards and export them to PostgreSQL, Git, files and S3.',
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
  kollect db init --config kollect.yaml --brin
  kollect changes --config kollect.yaml --since 24h --namespace shop`,
    );
  program.addCommand(collectCommand());
  program.addCommand(exportCommand());
  program.addCommand(shardReportCommand());
  program.addCommand(configCommand());
  program.addCommand(dbCommand());
  program.addCommand(changesCommand());
  return program;
}

/** Writes an error for a user (text) and returns its exit code. */
function report(error: KollectError, json: boolean): number {
  if (json) process.stderr.write(`${JSON.stringify({ level: 'error', ...error.toJSON() })}\n`);
  else process.stderr.write(`kollect: ${escapeUnprintable(error.message)}\n`);
  if (error.code === 'INTERNAL' && error.cause instanceof Error && error.cause.stack) process.stderr.write(`${error.cause.stack}\n`);
  return error.exitCode;
}

/** The only place that turns an outcome into an exit code and calls process.exit. */
export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  const jsonLogs = !interactive() || asksForJson(argv);
  // Usage mistakes in any subcommand must reach the catch below (exit 2), not process.exit(1).
  // Off a terminal they are reported there as one JSON line (code USAGE) like every other error,
  // so commander must not print its own text line.
  const throwInsteadOfExit = (command: Command): void => {
    command.exitOverride();
    if (jsonLogs) command.showHelpAfterError(false).configureOutput({ outputError: () => undefined });
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
      if (error.exitCode === 0) code = ExitCode.ok;
      else if (jsonLogs) code = report(usageErrorOf(error), true);
      else code = ExitCode.usage;
    } else {
      code = report(toKollectError(error), jsonLogs);
    }
  }
  // process.exit() drops what a pipe has not taken yet: `--output json | jq` would get the
  // first 64 KiB of a large result. An empty write's callback runs once every earlier one is flushed.
  await Promise.all([process.stdout, process.stderr].map((stream) => new Promise<void>((resolve) => stream.write('', () => resolve()))));
  process.exit(code);
}

/**
 * True when the command line asks for JSON output (`--output json`, `-o json`, `--format json`,
 * or the `=`/attached forms): errors are then JSON lines on a terminal too. Read before commander
 * parses, because a usage error may stop the parse; a value that merely is "json" (a cluster
 * named so) does not count.
 */
export function asksForJson(argv: readonly string[]): boolean {
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') return false;
    if ((arg === '--output' || arg === '-o' || arg === '--format') && argv[i + 1] === 'json') return true;
    if (arg === '--output=json' || arg === '--format=json' || arg === '-ojson') return true;
  }
  return false;
}

/** A commander usage error as kollect's own USAGE error (`error: ` prefix dropped). */
function usageErrorOf(error: CommanderError): UsageError {
  // commander.help: a command was required and the usage went to stderr instead.
  const message = error.code === 'commander.help' ? 'a command is required (usage above)' : error.message.replace(/^error: /, '');
  return new UsageError(message, { reason: error.code });
}
