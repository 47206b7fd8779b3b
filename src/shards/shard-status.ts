import type { ShardThresholds } from '../config/schema.js';
import { formatBytes, formatCount } from '../format.js';

/**
 * How a shard stands against the seed's thresholds:
 * - ok: under the warning line;
 * - warn: at ~1,800 rows (the ExportShardWarning condition) or near the byte limit;
 * - over: above the ~2,000-row target;
 * - too-large: above ~2,500 rows or the byte limit, where a monolithic payload fails with PayloadTooLarge.
 */
export type ShardStatus = 'ok' | 'warn' | 'over' | 'too-large';

export const STATUS_ORDER: readonly ShardStatus[] = ['ok', 'warn', 'over', 'too-large'];

export function shardStatus(rows: number, bytes: number, t: ShardThresholds): ShardStatus {
  if (rows > t.maxRows || bytes > t.maxBytes) return 'too-large';
  if (rows > t.targetRows) return 'over';
  if (rows >= t.warnRows || bytes >= t.warnBytes) return 'warn';
  return 'ok';
}

/** True when `status` is at or past `threshold`. */
export function atLeast(status: ShardStatus, threshold: ShardStatus): boolean {
  return STATUS_ORDER.indexOf(status) >= STATUS_ORDER.indexOf(threshold);
}

/**
 * What puts a shard at its status, for a message: `1,900 rows (warn at 1,800)`,
 * `1.30 MiB (warn at 1.20 MiB)`, or both joined by "and"; empty when it is ok. A shard that
 * warns for its bytes must not read as one that warns for its rows.
 */
export function statusReason(rows: number, bytes: number, t: ShardThresholds): string {
  const status = shardStatus(rows, bytes, t);
  const reasons: string[] = [];
  if (status === 'too-large') {
    if (rows > t.maxRows) reasons.push(`${formatCount(rows)} rows (PayloadTooLarge above ${formatCount(t.maxRows)})`);
    if (bytes > t.maxBytes) reasons.push(`${formatBytes(bytes)} (PayloadTooLarge above ${formatBytes(t.maxBytes)})`);
  } else if (status === 'over') {
    reasons.push(`${formatCount(rows)} rows (target ${formatCount(t.targetRows)})`);
  } else if (status === 'warn') {
    if (rows >= t.warnRows) reasons.push(`${formatCount(rows)} rows (warn at ${formatCount(t.warnRows)})`);
    if (bytes >= t.warnBytes) reasons.push(`${formatBytes(bytes)} (warn at ${formatBytes(t.warnBytes)})`);
  }
  return reasons.join(' and ');
}
