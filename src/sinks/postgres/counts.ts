import { compareKeys } from '../../compare.js';
import { addCounts, emptyCounts, type ChangeCounts, type ReplacedValues, type ShardChange, type SinkPlan, type SinkResult } from '../sink.js';

/** What the sink reports beyond the shared counts: its table, and the counts in database words. */
export interface PostgresCounts {
  /** `schema.table`. */
  table: string;
  inserted: number;
  updated: number;
  unchanged: number;
  deleted: number;
}
export type PostgresSinkPlan = SinkPlan & PostgresCounts;
export type PostgresSinkResult = SinkResult &
  PostgresCounts & {
    /** Rows sent to the database (COPY): shards whose stored rows already matched the store's are not. */
    staged: number;
    replaced: ReplacedValues;
  };

/** Per-shard changes and their totals. */
export interface ShardChanges {
  totals: ChangeCounts;
  shards: ShardChange[];
}

/** Per-shard changes sorted by shard (like the store's shards), and their totals: what apply() and plan() report. */
export function shardChanges(perShard: Iterable<[string, ChangeCounts]>): ShardChanges {
  const shards: ShardChange[] = [...perShard].sort(compareKeys).map(([shard, counts]) => ({ shard, counts }));
  const totals = emptyCounts();
  for (const s of shards) addCounts(totals, s.counts);
  return { totals, shards };
}

/** What an export did per shard, from the rows it staged, wrote and deleted there. */
export function summarise(
  staged: Map<string, number>,
  written: Map<string, { inserted: number; updated: number }>,
  deleted: Map<string, number>,
): ShardChanges {
  const keys = new Set<string>([...staged.keys(), ...written.keys(), ...deleted.keys()]);
  return shardChanges(
    [...keys].map((shard): [string, ChangeCounts] => {
      const w = written.get(shard) ?? { inserted: 0, updated: 0 };
      const rows = staged.get(shard) ?? 0;
      return [shard, { added: w.inserted, changed: w.updated, unchanged: Math.max(0, rows - w.inserted - w.updated), removed: deleted.get(shard) ?? 0 }];
    }),
  );
}

/** A plan or result with the table and the inserted / updated / unchanged / deleted counts (`--output json`). */
export function reportCounts(plan: SinkPlan, table: string): PostgresSinkPlan {
  const t = plan.totals;
  return { ...plan, table, inserted: t.added, updated: t.changed, unchanged: t.unchanged, deleted: t.removed };
}
