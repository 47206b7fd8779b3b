import { addCounts, emptyCounts, type ChangeCounts, type ShardChange } from '../sink.js';

/** What an export does to one shard's document, in every document sink. */
export type FileAction = 'add' | 'change' | 'remove' | 'unchanged';

const COUNTED_AS: Record<FileAction, keyof ChangeCounts> = { add: 'added', change: 'changed', remove: 'removed', unchanged: 'unchanged' };

/**
 * The action that turns a file's `before` into `after`: its contents, or anything equal exactly
 * when the contents are (a blob id); undefined for no file. Undefined when there is a file
 * neither before nor after: nothing to do and nothing to count.
 */
export function fileAction<T>(before: T | undefined, after: T | undefined): FileAction | undefined {
  if (after === undefined) return before === undefined ? undefined : 'remove';
  if (before === undefined) return 'add';
  return before === after ? 'unchanged' : 'change';
}

/** The action FileChanges recorded for a shard, read back from its counts. */
export function recordedAction(counts: ChangeCounts): FileAction {
  return (Object.keys(COUNTED_AS) as FileAction[]).find((action) => counts[COUNTED_AS[action]] > 0) ?? 'unchanged';
}

/** The file actions of an export, one per shard in the order they are decided, and their totals. */
export class FileChanges {
  readonly shards: ShardChange[] = [];
  readonly totals: ChangeCounts = emptyCounts();

  record(shard: string, path: string, action: FileAction): void {
    const counts = emptyCounts();
    counts[COUNTED_AS[action]] = 1;
    this.shards.push({ shard, path, counts });
    addCounts(this.totals, counts);
  }
}
