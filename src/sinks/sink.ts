import { formatCount, printable } from '../format.js';
import type { Logger } from '../log.js';
import type { CollectStore } from '../store/collect-store.js';
import type { DocumentClaim } from './document/shared-renders.js';
import type { SinkType } from './registry.js';

/**
 * What a sink would change or changed. Rows for the database (inserted / updated / unchanged /
 * deleted), files for Git and the file sink (added / changed / unchanged / removed).
 */
export interface ChangeCounts {
  added: number;
  changed: number;
  unchanged: number;
  removed: number;
}

export function emptyCounts(): ChangeCounts {
  return { added: 0, changed: 0, unchanged: 0, removed: 0 };
}

export function addCounts(into: ChangeCounts, more: ChangeCounts): ChangeCounts {
  into.added += more.added;
  into.changed += more.changed;
  into.unchanged += more.unchanged;
  into.removed += more.removed;
  return into;
}

/** Changes in one shard. */
export interface ShardChange {
  shard: string;
  counts: ChangeCounts;
  /** The file the shard maps to, for file-like sinks. */
  path?: string;
}

/** Why a sink does nothing this run, decided before any network request. */
export interface SkipReason {
  reason: 'unchanged' | 'interval';
  message: string;
}

export interface SinkPlan {
  sink: string;
  type: SinkType;
  /** What the counts count. */
  unit: 'rows' | 'files';
  /** Set when the sink would skip the whole export. */
  skipped?: SkipReason;
  totals: ChangeCounts;
  /** Per shard, in shard order; shards with nothing to do have only `unchanged`. */
  shards: ShardChange[];
  /** Values stored altered: reported by apply() of a sink that may alter a value, even when it altered none. */
  replaced?: ReplacedValues;
}

/** A value a sink stored altered, because it cannot hold it as it is. */
export interface ReplacedValue {
  /** The object's namespace (`''` when cluster-scoped), name and kind, as collected. */
  namespace: string;
  name: string;
  kind: string;
  /** Where in the row: a column (`name`), or a path into a JSON column (`attributes.note`, `labels["x/y"]`). */
  field: string;
}

/** The values a sink stored altered in one export: how many, and the first few by name. */
export interface ReplacedValues {
  count: number;
  /** The first REPLACED_VALUES_NAMED of them, in store order. */
  first: ReplacedValue[];
}

/** How many altered values a result names: enough to find the objects, few enough for a log line. */
export const REPLACED_VALUES_NAMED = 5;

/** An altered value as a person reads it: `namespace/name (Kind) field`, with the cluster's text made printable. */
export function describeReplacedValue(value: ReplacedValue): string {
  return `${value.namespace ? `${printable(value.namespace)}/` : ''}${printable(value.name)} (${printable(value.kind)}) ${value.field}`;
}

/** The altered values in one line: how many, and the first few named (`, ...` when there are more). */
export function describeReplacedValues(replaced: ReplacedValues): string {
  const more = replaced.count > replaced.first.length ? ', ...' : '';
  return `${formatCount(replaced.count)} ${replaced.count === 1 ? 'value' : 'values'} held text PostgreSQL cannot store (NUL, a lone surrogate), stored with U+FFFD in its place: ${replaced.first.map(describeReplacedValue).join(', ')}${more}`;
}

export interface SinkResult extends SinkPlan {
  durationMs: number;
}

/** Runs the work of an apply() and adds how long it took. */
export async function withDuration(work: () => Promise<SinkPlan>): Promise<SinkResult> {
  const started = Date.now();
  const plan = await work();
  return { ...plan, durationMs: Date.now() - started };
}

export interface SinkContext {
  log: Logger;
  /** Aborted on SIGTERM/SIGINT: stop, roll back, leave nothing half-written. */
  signal: AbortSignal;
  /** Ignore the export interval (git `exportMinInterval`). */
  force: boolean;
  now: () => Date;
  /** A document sink's share of the run's rendered shard documents (runSinks makes one per sink that `sharesDocuments`). */
  documents?: DocumentClaim | undefined;
}

/**
 * The contract every sink keeps. `plan()` writes nothing anywhere (no row, ref, file or state);
 * `apply()` writes, and never deletes rows or files of a resource type listed incompletely.
 */
export interface Sink {
  readonly name: string;
  readonly type: SinkPlan['type'];
  /** True for a sink that writes one document per shard through the document engine (src/sinks/document/). */
  readonly sharesDocuments?: boolean;
  plan(store: CollectStore, ctx: SinkContext): Promise<SinkPlan>;
  apply(store: CollectStore, ctx: SinkContext): Promise<SinkResult>;
  /** Releases connections; called once after the run. */
  close(): Promise<void>;
}
