/** How a figure is held to its target. */
export type TargetOperator = '<=' | '>=' | '<' | '==';

/** One figure held to its target, as a benchmark's JSON result lists it (docs/benchmarks.md). */
export interface Verdict {
  /** Stable across runs, so that a program can match the verdicts of two results: `end-to-end@100000`. */
  name: string;
  /** The measured figure, in `unit`. */
  value: number;
  operator: TargetOperator;
  /** The bound, in `unit`: the verdict passes when `value operator target` holds. */
  target: number;
  /** `x` for a ratio to the benchmark's baseline; else `MiB`, `requests`, `tuples`, ... */
  unit: string;
  pass: boolean;
}

const HOLDS: Record<TargetOperator, (value: number, target: number) => boolean> = {
  '<=': (value, target) => value <= target,
  '>=': (value, target) => value >= target,
  '<': (value, target) => value < target,
  '==': (value, target) => value === target,
};

/** `<= 2x`, `< 512 MiB`, and an exact target as its bare value: `0`. */
function targetText({ operator, target, unit }: Omit<Verdict, 'name' | 'value' | 'pass'>): string {
  const bound = unit === 'x' ? `${target}x` : `${target} ${unit}`;
  return operator === '==' ? String(target) : `${operator} ${bound}`;
}

/**
 * A benchmark's verdicts, one per target: PASS/MISS lines for a reader, and the same verdicts as
 * data for its JSON result. `report()` also sets the exit code to 1 when a target missed, so a
 * benchmark can gate a pipeline.
 */
export class Verdicts {
  private readonly verdicts: Verdict[] = [];
  private readonly lines: string[] = [];

  /** Holds `figure` to its target; `text` says what was measured, and the line ends with the target. */
  check(figure: Omit<Verdict, 'pass'>, text: string): void {
    const pass = HOLDS[figure.operator](figure.value, figure.target);
    this.verdicts.push({ ...figure, pass });
    this.lines.push(`${pass ? 'PASS' : 'MISS'}  ${text} (target ${targetText(figure)})`);
  }

  /** Whether every target so far was met. */
  get pass(): boolean {
    return this.verdicts.every((verdict) => verdict.pass);
  }

  /** Every verdict so far, in the order checked. */
  list(): readonly Verdict[] {
    return this.verdicts;
  }

  report(): string {
    if (!this.pass) process.exitCode = 1;
    return this.lines.join('\n');
  }
}
