/**
 * A whole number with thousands separators, as `toLocaleString('en-US')` prints it
 * (`25,000`), without its cost: the first call of a locale-aware formatter loads ICU's number
 * data, about 15 ms of CPU in every process that prints a summary.
 */
export function formatCount(n: number): string {
  const digits = String(Math.abs(Math.round(n))).replace(/\B(?=(\d{3})+$)/g, ',');
  return n < 0 ? `-${digits}` : digits;
}
