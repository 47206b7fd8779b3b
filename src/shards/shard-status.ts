import type { ShardThresholds } from '../config/schema.js';

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
