/**
 * A whole number with thousands separators, as `toLocaleString('en-US')` prints it
 * (`25,000`), without its cost: the first call of a locale-aware formatter loads ICU's number
 * data, which every process that prints a summary would pay for at each start
 * (docs/benchmarks.md, "Choices in the code").
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

/**
 * Characters a terminal or a log viewer may act on or hide: C0 and C1 controls, soft hyphen,
 * zero-width and bidirectional marks, line and paragraph separators, BOM.
 */
const UNPRINTABLE = /[\p{Cc}\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\ufffb]/gu;

/**
 * Text with each UNPRINTABLE character shown as an escape: JSON's short one where it has one
 * (`\n`, `\t`), else `\uXXXX`. For text that carries cluster data but is not itself quoted (a
 * log message on a terminal).
 */
export function escapeUnprintable(text: string): string {
  return text.replace(UNPRINTABLE, (c) => {
    const json = JSON.stringify(c);
    return json.length > 3 ? json.slice(1, -1) : `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
  });
}

/**
 * Text from a cluster, in double quotes, safe to print: JSON's escapes (quotes, backslashes,
 * control characters, lone surrogates) and `\uXXXX` for the rest of UNPRINTABLE. Anything an
 * API server sent goes into a message through this or `printable`.
 */
export function quoted(text: string): string {
  return escapeUnprintable(JSON.stringify(text));
}

/**
 * Text from a cluster as a summary or a log line may show it: as it is when it holds only
 * letters, digits and `-._:/@` (every valid Kubernetes name), else `quoted`.
 */
export function printable(text: string): string {
  return /^[\w.:/@-]+$/.test(text) ? text : quoted(text);
}
