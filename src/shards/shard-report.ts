import type { ShardThresholds } from '../config/schema.js';
import { atLeast, shardStatus, STATUS_ORDER, type ShardStatus } from './shard-status.js';

/** Size of one shard, from a store, a folder of manifests or a live collection. */
export interface ShardSize {
  key: string;
  rows: number;
  bytes: number;
}

export interface ShardReportLine extends ShardSize {
  status: ShardStatus;
}

export interface ShardReport {
  /** Where the sizes came from: a store path, a manifests folder, or the live cluster. */
  source: string;
  cluster: string;
  thresholds: ShardThresholds;
  /** Largest first. */
  shards: ShardReportLine[];
  totals: { shards: number; rows: number; bytes: number };
  /** How many shards stand at each status. */
  byStatus: Record<ShardStatus, number>;
  /** The status the run fails at (`over` unless --fail-on warn). */
  failOn: ShardStatus;
  /** Shards at or past failOn; non-empty means exit 1. */
  failing: string[];
}

export function buildShardReport(input: {
  source: string;
  cluster: string;
  sizes: Iterable<ShardSize>;
  thresholds: ShardThresholds;
  failOn: 'warn' | 'over';
}): ShardReport {
  const shards = [...input.sizes]
    .map((s) => ({ ...s, status: shardStatus(s.rows, s.bytes, input.thresholds) }))
    .sort((a, b) => b.rows - a.rows || b.bytes - a.bytes || (a.key < b.key ? -1 : 1));
  const byStatus = Object.fromEntries(STATUS_ORDER.map((s) => [s, 0])) as Record<ShardStatus, number>;
  for (const s of shards) byStatus[s.status]++;
  return {
    source: input.source,
    cluster: input.cluster,
    thresholds: input.thresholds,
    shards,
    totals: {
      shards: shards.length,
      rows: shards.reduce((n, s) => n + s.rows, 0),
      bytes: shards.reduce((n, s) => n + s.bytes, 0),
    },
    byStatus,
    failOn: input.failOn,
    failing: shards.filter((s) => atLeast(s.status, input.failOn)).map((s) => s.key),
  };
}
