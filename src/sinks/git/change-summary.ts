import type { ChangeCounts } from '../sink.js';
import { formatCount } from '../../format.js';

/**
 * The commit message of a Git export: how many shard files and rows changed. Rows are counted
 * from the old and new versions of each changed file, comparing lines (one row per line).
 */

const plural = (n: number, word: string): string => `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;

/** Rows added, updated and removed in one commit. */
export interface RowDelta {
  added: number;
  updated: number;
  removed: number;
}

export function addRowDelta(into: RowDelta, more: RowDelta): void {
  into.added += more.added;
  into.updated += more.updated;
  into.removed += more.removed;
}

/** The rows of a shard file, one a line, without the separating comma (header lines are not rows). */
function rowLines(text: string | undefined): Set<string> {
  const rows = new Set<string>();
  for (const line of text?.split('\n') ?? []) {
    const row = line.trim().replace(/,$/, '');
    if (row.length > 1 && row.startsWith('{') && row.endsWith('}')) rows.add(row);
  }
  return rows;
}

/** A row line's identity within its shard; undefined for a line that is not JSON (not a row). */
function rowIdentity(line: string): string | undefined {
  try {
    const row = JSON.parse(line) as { apiGroup?: string; resource?: string; name?: string; uid?: string };
    return `${row.apiGroup}/${row.resource}/${row.name}/${row.uid}`;
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/**
 * What changed between two versions of a shard file, row by row (a missing file has no rows).
 * A shard document holds one row per line (renderShardDocument), so an unchanged row is an equal
 * line: only the lines that differ are parsed, to tell an updated row from an added or removed
 * one. When every shard changes, this stays cheap next to rendering.
 */
export function rowDelta(before: string | undefined, after: string | undefined): RowDelta {
  const old = rowLines(before);
  const now = rowLines(after);
  const identities = (lines: Set<string>, other: Set<string>): string[] => {
    const keys: string[] = [];
    for (const line of lines) {
      const key = other.has(line) ? undefined : rowIdentity(line);
      if (key !== undefined) keys.push(key);
    }
    return keys;
  };
  const gone = new Set(identities(old, now));
  const delta: RowDelta = { added: 0, updated: 0, removed: 0 };
  for (const key of identities(now, old)) {
    if (gone.delete(key)) delta.updated++;
    else delta.added++;
  }
  delta.removed = gone.size;
  return delta;
}

/** The parts that are not zero, e.g. "1 added, 2 updated". */
function counted(parts: Array<[number, string]>): string {
  return parts
    .filter(([n]) => n > 0)
    .map(([n, word]) => `${formatCount(n)} ${word}`)
    .join(', ');
}

/** "cluster c1: 3 shards changed (1 added, 2 updated), 1,702 rows changed (1,650 added, 52 updated), 14,201 rows in all" */
export function changeSummary(cluster: string, files: ChangeCounts, rows: RowDelta, totalRows: number): string {
  const shards = files.added + files.changed + files.removed;
  const changedRows = rows.added + rows.updated + rows.removed;
  const fileParts = counted([
    [files.added, 'added'],
    [files.changed, 'updated'],
    [files.removed, 'removed'],
  ]);
  const rowParts = counted([
    [rows.added, 'added'],
    [rows.updated, 'updated'],
    [rows.removed, 'removed'],
  ]);
  return `cluster ${cluster}: ${plural(shards, 'shard')} changed (${fileParts}), ${plural(changedRows, 'row')} changed${rowParts ? ` (${rowParts})` : ''}, ${plural(totalRows, 'row')} in all`;
}
