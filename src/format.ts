/**
 * A whole number with thousands separators, as `toLocaleString('en-US')` prints it
 * (`25,000`), without its cost: the first call of a locale-aware formatter loads ICU's number
 * data, about 15 ms of CPU in every process that prints a summary.
 */
export function formatCount(n: number): string {
  const digits = String(Math.abs(Math.round(n))).replace(/\B(?=(\d{3})+$)/g, ',');
  return n < 0 ? `-${digits}` : digits;
}

/** A size in bytes as kollect prints it: `512 B`, `48.3 KiB`, `1.35 MiB` (two decimals, to compare with the shard limits of 1.2 and 1.5 MiB). */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  // Below what would round to 1024.0 KiB.
  if (n < 1023.95 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(2)} MiB`;
}
