/**
 * A benchmark's PASS/MISS lines, one per target. `report()` also sets the exit code to 1 when a
 * target missed, so a benchmark can gate a pipeline (as bench:git and bench:fleet do).
 */
export class Verdicts {
  private readonly lines: string[] = [];
  private missed = false;

  check(ok: boolean, text: string): void {
    this.lines.push(`${ok ? 'PASS' : 'MISS'}  ${text}`);
    if (!ok) this.missed = true;
  }

  report(): string {
    if (this.missed) process.exitCode = 1;
    return this.lines.join('\n');
  }
}
