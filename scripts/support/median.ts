/**
 * The middle item of `items` ordered by `key`; of an even count, the upper of the two middle ones
 * (so the median is always one of the measured items, never an average of two). Undefined when
 * empty.
 */
export function medianBy<T>(items: readonly T[], key: (item: T) => number): T | undefined {
  const sorted = [...items].sort((a, b) => key(a) - key(b));
  return sorted[Math.floor(sorted.length / 2)];
}

/** The median of `values` (see medianBy); NaN when empty. */
export function median(values: readonly number[]): number {
  return medianBy(values, (value) => value) ?? Number.NaN;
}
