/**
 * The middle of `values` in sorted order; of an even count, the upper of the two middle ones (so
 * the median is always one of the measured values, never an average of two). NaN when empty.
 */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}
