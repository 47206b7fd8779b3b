import { InvalidArgumentError, Option, type Command } from 'commander';
import { stat } from 'node:fs/promises';
import { loadConfig, validateConfig, type ConfigOverrides } from '../config/load.js';
import type { KollectConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { escapeUnprintable } from '../format.js';

/** The configuration file a command reads when neither --config nor KOLLECT_CONFIG names one. */
export const DEFAULT_CONFIG_FILE = 'kollect.yaml';

/** Options every command that reads a configuration shares. */
export interface ConfigFlags {
  config: string;
  cluster?: string;
  output: 'text' | 'json';
}

export function addConfigOptions(command: Command): Command {
  return command
    .addOption(new Option('-c, --config <file>', 'configuration file (YAML or JSON)').env('KOLLECT_CONFIG').default(DEFAULT_CONFIG_FILE))
    .addOption(new Option('--cluster <name>', "this cluster's name in the fleet (overrides the file)"))
    .addOption(outputOption());
}

/** `-o, --output text|json`: how a command prints its result. */
export function outputOption(): Option {
  return new Option('-o, --output <format>', 'result format').choices(['text', 'json']).default('text');
}

/** Parses a positive integer flag; commander reports a bad value naming the flag (exit 2). */
export function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a positive integer.');
  return n;
}

export function readConfig(flags: ConfigFlags, overrides: Omit<ConfigOverrides, 'cluster'> = {}): Promise<KollectConfig> {
  return loadConfig(flags.config, { ...overrides, cluster: flags.cluster });
}

/** The cluster name rows are measured with when nothing names the cluster. */
const UNNAMED_CLUSTER = 'unnamed';

/** False only when nothing is at `path`; anything else (a folder, no permission) is the loader's to report. */
export async function present(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT';
  }
}

/**
 * The configuration of a command that needs no cluster (shard-report --manifests, db ddl): the
 * file when one is named (--config, KOLLECT_CONFIG) or the default kollect.yaml exists, else
 * `defaults` (a document, validated as a file would be). `named` is false when neither a file nor
 * --cluster named the cluster.
 */
export async function readConfigOrDefaults(
  flags: ConfigFlags,
  command: Command,
  defaults: Record<string, unknown> = {},
  overrides: Omit<ConfigOverrides, 'cluster'> = {},
): Promise<{ config: KollectConfig; fromFile: boolean; named: boolean }> {
  if (command.getOptionValueSource('config') !== 'default' || (await present(flags.config))) {
    return { config: await readConfig(flags, overrides), fromFile: true, named: true };
  }
  const config = validateConfig(defaults, { ...overrides, cluster: flags.cluster ?? UNNAMED_CLUSTER });
  return { config, fromFile: false, named: flags.cluster !== undefined };
}

/** True when stderr is a terminal and CI is not set: spinners and tables, else JSON lines. */
export function interactive(): boolean {
  return process.stderr.isTTY === true && !process.env.CI;
}

/** A `key=value` value: bare when that reads unambiguously, else quoted as JSON. */
function textValue(value: unknown): string {
  if (typeof value === 'string' && /^[^\s"=\\\p{Cc}]+$/u.test(value)) return escapeUnprintable(value);
  return escapeUnprintable(JSON.stringify(value) ?? String(value));
}

/**
 * Log lines on stderr: JSON lines for a CronJob's log collector, short text on a terminal.
 * Data never carries credentials: sinks pass names, not URLs with passwords.
 */
export function createLogger(options: { json: boolean; verbose?: boolean }): Logger {
  const write = (level: string, message: string, data?: Record<string, unknown>): void => {
    if (options.json) {
      process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), level, msg: message, ...data })}\n`);
    } else {
      const extra =
        data && Object.keys(data).length > 0
          ? ` ${Object.entries(data)
              .map(([k, v]) => `${k}=${textValue(v)}`)
              .join(' ')}`
          : '';
      process.stderr.write(`${level === 'info' ? '' : `${level}: `}${escapeUnprintable(message)}${extra}\n`);
    }
  };
  return {
    debug: (m, d) => {
      if (options.verbose) write('debug', m, d);
    },
    info: (m, d) => write('info', m, d),
    warn: (m, d) => write('warn', m, d),
    error: (m, d) => write('error', m, d),
  };
}

/** Prints a result: JSON on stdout with --output json, else the command's own text. */
export function printResult(output: 'text' | 'json', result: unknown, text: () => string): void {
  process.stdout.write(output === 'json' ? `${JSON.stringify(result, null, 2)}\n` : text());
}

/** A plain aligned text table (no colours, so it pastes into tickets and README files). */
export function formatTable(header: string[], rows: Array<Array<string | number>>, alignRight: number[] = []): string {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string =>
    r
      .map((c, i) => (alignRight.includes(i) ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
      .trimEnd();
  return `${cells.map(line).join('\n')}\n`;
}
