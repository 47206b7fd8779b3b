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

/** Text in JSON quotes with every character outside printable ASCII escaped (`\u202e`), safe for any terminal or log. */
export function quoted(text: string): string {
  return JSON.stringify(text).replace(/[^\x20-\x7e]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * Text from a cluster as a summary or a log line may show it: as it is when it holds only
 * letters, digits and `-._:/@` (every valid Kubernetes name), else `quoted`, so that no control,
 * bidirectional or invisible character reaches a terminal or a log collector.
 */
export function printable(text: string): string {
  return /^[\w.:/@-]+$/.test(text) ? text : quoted(text);
}
