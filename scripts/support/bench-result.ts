import { constants } from 'node:fs';
import { access, writeFile } from 'node:fs/promises';
import { arch, cpus, platform } from 'node:os';
import { dirname, resolve } from 'node:path';
import type { Verdict, Verdicts } from './verdicts.js';

/**
 * What `--json FILE` writes, the same shape for every benchmark (docs/benchmarks.md, "JSON
 * results"), so that a program compares two runs. New fields may come; existing ones keep their
 * meaning while `schemaVersion` stays 1.
 */
export interface BenchResult {
  schemaVersion: 1;
  /** The npm script: `bench`, `bench:collect`, `bench:pg`, `bench:git`, `bench:fleet`. */
  benchmark: string;
  /** ISO 8601, when the benchmark started and when it wrote this file. */
  startedAt: string;
  finishedAt: string;
  /** Ratios move with the machine: a 2-core machine shares its cores between kollect and its baseline. */
  machine: { cpus: number; cpuModel: string; node: string; platform: string; arch: string };
  /** The run's settings: sizes, rounds, rows; whatever the benchmark's flags chose. */
  parameters: Record<string, string | number | boolean>;
  /** What was measured, case by case, in the order measured. */
  cases: BenchCase[];
  verdicts: Verdict[];
  /** Every verdict passed: the benchmark's exit code is 0. */
  pass: boolean;
}

/** One measured case. */
export interface BenchCase {
  /** Unique in the result and stable across runs: `kollect-metadata@100000`, `(b) first export`. */
  name: string;
  /** Each figure's name ends with its unit, or is a count: `ms`, `maxRssKiB`, `walBytes`, `rows`, `ratio`. */
  figures: Record<string, number>;
}

/**
 * The file of `--json FILE` (or `--json=FILE`) in `argv`, as an absolute path; undefined without
 * the flag. Checked before anything is measured: a benchmark runs for minutes, and a folder it
 * cannot write to should fail it at the start, not at the end.
 */
export async function jsonResultPath(argv: readonly string[] = process.argv.slice(2)): Promise<string | undefined> {
  const at = argv.findIndex((arg) => arg === '--json' || arg.startsWith('--json='));
  if (at < 0) return undefined;
  const flag = argv[at]!;
  const value = flag === '--json' ? argv[at + 1] : flag.slice('--json='.length);
  if (!value || value.startsWith('--')) throw new Error('--json takes the file to write the result to: --json FILE');
  const path = resolve(value);
  try {
    await access(dirname(path), constants.W_OK);
  } catch (error) {
    throw new Error(`--json ${value}: cannot write into ${dirname(path)} (${(error as NodeJS.ErrnoException).code ?? String(error)})`, { cause: error });
  }
  return path;
}

/** A benchmark's result as it is measured: make it at the start (it notes the time), add cases, then write it. */
export class BenchRecord {
  private readonly startedAt = new Date();
  private readonly cases: BenchCase[] = [];

  constructor(
    private readonly benchmark: string,
    private readonly parameters: BenchResult['parameters'],
  ) {}

  add(name: string, figures: BenchCase['figures']): void {
    this.cases.push({ name, figures });
  }

  result(verdicts: Verdicts): BenchResult {
    const cpu = cpus();
    return {
      schemaVersion: 1,
      benchmark: this.benchmark,
      startedAt: this.startedAt.toISOString(),
      finishedAt: new Date().toISOString(),
      machine: { cpus: cpu.length, cpuModel: cpu[0]?.model.trim() ?? 'unknown', node: process.version, platform: platform(), arch: arch() },
      parameters: this.parameters,
      cases: this.cases,
      verdicts: [...verdicts.list()],
      pass: verdicts.pass,
    };
  }

  /** Writes the result to `path` as indented JSON. */
  async write(path: string, verdicts: Verdicts): Promise<void> {
    await writeFile(path, `${JSON.stringify(this.result(verdicts), null, 2)}\n`);
  }
}
