import type { ShardThresholds } from '../config/schema.js';
import { atLeast, shardStatus, statusReason, STATUS_ORDER, type ShardStatus } from './shard-status.js';

/** Size of one shard, from a store, a folder of Kubernetes manifests or a live collection. */
export interface ShardSize {
  key: string;
  rows: number;
  bytes: number;
}

export interface ShardReportLine extends ShardSize {
  status: ShardStatus;
  /** What put the shard at its status, its rows or its bytes (statusReason); empty when ok. */
  reason: string;
}

/** A resource type whose list did not complete: its rows are missing from the counts. */
export interface IncompleteType {
  /** kubectl-style name: `pods`, `deployments.apps`. */
  resource: string;
  /** `forbidden` (403), `error` (the API failed after retries) or `interrupted`. */
  reason: string;
}

export interface ShardReport {
  /** Where the sizes came from: a store path, a folder of Kubernetes manifests, or the live cluster. */
  source: string;
  /** The cluster's name; absent when manifests are reported without a configuration that names one. */
  cluster?: string;
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
  /**
   * Types whose list did not complete (live cluster or a saved store): the counts above lack
   * some of their rows, so a shard may be larger than reported.
   */
  incomplete: IncompleteType[];
  /**
   * Types whose list failed (`error`, `interrupted`): non-empty means exit 1, like any run whose
   * API calls failed, since the report cannot vouch for their shards. A 403 (`forbidden`) is a
   * warning only, as in `collect`.
   */
  failedTypes: string[];
}

export function buildShardReport(input: {
  source: string;
  cluster: string | undefined;
  sizes: Iterable<ShardSize>;
  thresholds: ShardThresholds;
  failOn: 'warn' | 'over';
  incomplete?: IncompleteType[];
}): ShardReport {
  const shards = [...input.sizes]
    .map((s) => ({ ...s, status: shardStatus(s.rows, s.bytes, input.thresholds), reason: statusReason(s.rows, s.bytes, input.thresholds) }))
    .sort((a, b) => b.rows - a.rows || b.bytes - a.bytes || (a.key < b.key ? -1 : 1));
  const byStatus = Object.fromEntries(STATUS_ORDER.map((s) => [s, 0])) as Record<ShardStatus, number>;
  for (const s of shards) byStatus[s.status]++;
  return {
    source: input.source,
    ...(input.cluster !== undefined ? { cluster: input.cluster } : {}),
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
    incomplete: input.incomplete ?? [],
    failedTypes: (input.incomplete ?? []).filter((t) => t.reason !== 'forbidden').map((t) => t.resource),
  };
}
