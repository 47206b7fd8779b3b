import { noTypeListedCompletely } from '../collect/collect.js';
import type { RunResult } from '../run.js';
import { recordedAction } from '../sinks/document/file-changes.js';
import type { SinkOutcome } from '../sinks/run-sinks.js';
import { describeReplacedValues, type ShardChange, type SinkPlan } from '../sinks/sink.js';
import { formatTable } from './common.js';
import { escapeUnprintable, formatBytes, formatCount } from '../format.js';
import { resourceTypeKey } from '../rows/row.js';

/** Column names per unit: rows in a database, files in Git and folders. */
const LABELS = {
  rows: ['insert', 'update', 'unchanged', 'delete'],
  files: ['add', 'change', 'unchanged', 'remove'],
} as const;

function sinkLine(outcome: SinkOutcome, dryRun: boolean): Array<string | number> {
  if (!outcome.ok) return [outcome.sink, outcome.type, `failed (${outcome.error.code})`, '', '', '', '', ''];
  const r = outcome.result;
  const state = r.skipped ? `skipped: ${r.skipped.reason}` : dryRun ? 'planned' : 'applied';
  const [a, c, u, d] = LABELS[r.unit];
  const t = r.totals;
  const time = 'durationMs' in r ? `${r.durationMs} ms` : '';
  return [
    outcome.sink,
    outcome.type,
    state,
    `${formatCount(t.added)} ${a}`,
    `${formatCount(t.changed)} ${c}`,
    `${formatCount(t.unchanged)} ${u}`,
    `${formatCount(t.removed)} ${d}`,
    time,
  ];
}

/** A shard with something to do: rows or a file added, changed or removed. */
const changes = (s: ShardChange): boolean => s.counts.added + s.counts.changed + s.counts.removed > 0;

/**
 * A dry run's detail, per sink that would write: rows per shard for a database, files per shard
 * for Git and folders. Shards with nothing to do are only counted, so a cluster of hundreds of
 * namespaces with a few changes prints a few lines.
 */
function shardPlan(plan: SinkPlan): string[] {
  const changed = plan.shards.filter(changes);
  const idle = plan.shards.length - changed.length;
  const lines = [`${plan.sink} (${plan.type}): ${plan.unit} per shard`];
  if (changed.length === 0) return [...lines, `nothing to do (${formatCount(idle)} ${idle === 1 ? 'shard' : 'shards'} unchanged)`];
  if (plan.unit === 'rows') {
    const rows = changed.map((s) => [
      s.shard,
      formatCount(s.counts.added),
      formatCount(s.counts.changed),
      formatCount(s.counts.unchanged),
      formatCount(s.counts.removed),
    ]);
    lines.push(formatTable(['SHARD', 'INSERT', 'UPDATE', 'UNCHANGED', 'DELETE'], rows, [1, 2, 3, 4]).trimEnd());
  } else {
    lines.push(
      formatTable(
        ['SHARD', 'ACTION', 'PATH'],
        changed.map((s) => [s.shard, recordedAction(s.counts), s.path ?? '']),
      ).trimEnd(),
    );
  }
  if (idle > 0) lines.push(`(${formatCount(idle)} ${idle === 1 ? 'shard' : 'shards'} unchanged)`);
  return lines;
}

/** The summary a person reads after `collect` or `export`. */
export function formatRunSummary(result: RunResult): string {
  const lines: string[] = [];
  const s = result.store;
  if (result.collection) {
    const types = result.collection.resources.length;
    lines.push(
      `Collected ${formatCount(s.rows)} rows of ${types} resource types from cluster ${result.cluster} in ${(result.collection.durationMs / 1000).toFixed(1)} s`,
    );
  } else {
    lines.push(`Store of cluster ${result.cluster}, collected ${s.collectedAt}: ${formatCount(s.rows)} rows`);
  }
  lines.push(`Store: ${s.kept ? s.dir : 'temporary, removed after the dry run'} (${formatCount(s.shards)} shards, ${formatBytes(s.bytes)})`);
  for (const type of result.incomplete) {
    const name = resourceTypeKey(type);
    const where = type.incompleteNamespaces;
    lines.push(
      where
        ? `Incomplete: ${name} in ${where.length} namespaces (${type.reason ?? 'unknown'}: ${where.slice(0, 5).join(', ')}${where.length > 5 ? ', ...' : ''}): its rows there are neither deleted nor replaced`
        : `Incomplete: ${name} (${type.reason ?? 'unknown'}): its rows are neither deleted nor replaced`,
    );
  }
  for (const gone of result.discovery.notServed) lines.push(`Not served: ${resourceTypeKey(gone)} (optional): skipped; rows of it are removed`);
  for (const failed of result.discovery.discoveryFailed) {
    lines.push(`Discovery failed: ${failed.group ? `${failed.group}/` : ''}${failed.version}: nothing of the group is listed or deleted`);
  }
  if (result.shardWarnings.length > 0) {
    const worst = result.shardWarnings
      .slice()
      .sort((a, b) => b.rows - a.rows)
      .slice(0, 5)
      .map((w) => `${w.shard} ${w.status}: ${w.reason}`);
    lines.push(`Shard warnings: ${result.shardWarnings.length} (${worst.join(', ')}${result.shardWarnings.length > 5 ? ', ...' : ''})`);
  }
  if (result.sinks.length === 0) {
    lines.push('No sinks configured: the store was written and nothing exported.');
  } else {
    lines.push('');
    lines.push(
      formatTable(
        ['SINK', 'TYPE', result.dryRun ? 'PLAN' : 'RESULT', '', '', '', '', 'TIME'],
        result.sinks.map((o) => sinkLine(o, result.dryRun)),
        [3, 4, 5, 6, 7],
      ).trimEnd(),
    );
    for (const o of result.sinks) {
      // Messages may carry what a server answered.
      if (!o.ok) lines.push(`${o.sink}: ${escapeUnprintable(o.error.message)}`);
      else if (o.result.skipped) lines.push(`${o.sink}: ${escapeUnprintable(o.result.skipped.message)}`);
      if (o.ok && o.result.replaced && o.result.replaced.count > 0) lines.push(`${o.sink}: ${describeReplacedValues(o.result.replaced)}`);
    }
    if (result.dryRun) {
      for (const o of result.sinks) if (o.ok && !o.result.skipped) lines.push('', ...shardPlan(o.result));
    }
  }
  if (result.dryRun) lines.push('', 'Dry run: nothing was written to any sink.');
  // Why the run exits 1, in one line: a failed list leaves every sink "applied" above.
  const failures = [
    ...(result.collection && noTypeListedCompletely(result.collection.resources) ? ['no resource type was listed completely (see Incomplete above)'] : []),
    ...(result.collection?.failedTypes ?? []).map((type) => `the list of ${type} did not complete`),
    ...result.sinks.filter((o) => !o.ok).map((o) => `sink ${o.sink} failed`),
  ];
  if (failures.length > 0) lines.push('', `FAILED (exit 1): ${failures.join('; ')}`);
  return `${lines.join('\n')}\n`;
}
