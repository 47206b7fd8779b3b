import { formatCount, printable } from '../format.js';
import type { AsOfResult, ChangesResult } from '../history/read-history.js';
import { formatTable } from './common.js';

/** The text `kollect changes` prints; every value that came from a cluster goes through `printable`. */

/** Cluster-scoped objects have namespace ''. */
function namespaceCell(namespace: string): string {
  return namespace === '' ? '-' : printable(namespace);
}

export function formatChanges(result: ChangesResult): string {
  const window = `since ${result.since}${result.until === null ? '' : `, until ${result.until}`}`;
  if (result.changes.length === 0) return `no changes ${window} (${result.table})\n`;
  const table = formatTable(
    ['TIME', 'CLUSTER', 'NAMESPACE', 'KIND', 'NAME', 'OPERATION', 'CHANGED'],
    result.changes.map((c) => [
      c.changedAt,
      printable(c.cluster),
      namespaceCell(c.namespace),
      printable(c.kind),
      printable(c.name),
      c.operation,
      c.changedFields.map(printable).join(', '),
    ]),
  );
  const count = `${formatCount(result.changes.length)} change${result.changes.length === 1 ? '' : 's'} ${window}, newest first`;
  const cut = result.truncated ? `; more match: narrow the filters or raise --limit (now ${formatCount(result.limit)})` : '';
  return `${table}${count}${cut}\n`;
}

export function formatAsOf(result: AsOfResult): string {
  const head = `namespace ${namespaceCell(result.namespace)} of cluster ${printable(result.cluster)} as of ${result.asOf} (history from ${result.historyFrom})`;
  if (result.objects.length === 0) return `${head}: no objects\n`;
  const table = formatTable(
    ['KIND', 'NAME', 'CREATED', 'SINCE THEN'],
    result.objects.map((o) => [printable(o.kind), printable(o.name), o.createdAt === null ? '-' : o.createdAt, o.since]),
  );
  const cut = result.truncated ? `; more exist: narrow with --kind or --name, or raise --limit (now ${formatCount(result.limit)})` : '';
  return `${head}: ${formatCount(result.objects.length)} object${result.objects.length === 1 ? '' : 's'}${cut}\n${table}`;
}
