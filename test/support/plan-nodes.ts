import { withClient } from './postgres.js';

/**
 * The plans of the statements an export runs, as the server chose them in the export's own
 * transaction: auto_explain sends each statement's plan to the client as a NOTICE (JSON format).
 * test/sinks/postgres/plans.test.ts reads them off the sink's pool, bench:scale off the wire
 * between the built CLI and the server (scripts/support/notice-proxy.ts).
 */

export interface PlanNode {
  'Node Type': string;
  'Relation Name'?: string;
  /** Which side of its parent a node is: `Outer` (read once) or `Inner` (read per outer row, under a Nested Loop). */
  'Parent Relationship'?: string;
  Plans?: PlanNode[];
}

export interface LoggedPlan {
  'Query Text': string;
  Plan: PlanNode;
}

/** The staging table an export COPYs its changed shards into (src/sinks/postgres/merge.ts). */
const STAGING_RELATION = 'kollect_staging';

/** Every node of a plan tree, depth first. */
export function* nodesOf(node: PlanNode): Generator<PlanNode> {
  yield node;
  for (const child of node.Plans ?? []) yield* nodesOf(child);
}

/** Whether a plan reads the staging table. */
export function touchesStaging(plan: PlanNode): boolean {
  return [...nodesOf(plan)].some((n) => n['Relation Name'] === STAGING_RELATION);
}

/**
 * The Nested Loop nodes of a plan that loop over the staging table: staging read on the inner
 * side, once per outer row. Staging on the outer side, each of its rows probing an index of the
 * items table, reads it once; and staging read by TID (one tuple per outer row, as the history
 * rows fetch a changed row) is no loop over it either.
 */
export function nestedLoopsOverStaging(plan: PlanNode): PlanNode[] {
  const scansStaging = (node: PlanNode): boolean => [...nodesOf(node)].some((n) => n['Relation Name'] === STAGING_RELATION && n['Node Type'] !== 'Tid Scan');
  return [...nodesOf(plan)].filter(
    (node) => node['Node Type'] === 'Nested Loop' && (node.Plans ?? []).some((child) => child['Parent Relationship'] === 'Inner' && scansStaging(child)),
  );
}

/** A plan auto_explain sent as a notice: `duration: 0.123 ms  plan:\n{...}`. */
export function loggedPlanOf(notice: string): LoggedPlan {
  return JSON.parse(notice.replace(/^duration: [\d.]+ ms\s+plan:\s*/, '')) as LoggedPlan;
}

/**
 * Makes every session of the database at `url` opened from now on send the plan of each
 * statement it runs to its client (auto_explain, as notices; `false` turns it off again).
 * Needs a superuser, as auto_explain's settings do.
 */
export async function explainEveryStatement(url: string, on = true): Promise<void> {
  const database = new URL(url).pathname.slice(1);
  await withClient(url, async (c) => {
    for (const [name, value] of Object.entries({
      session_preload_libraries: 'auto_explain',
      'auto_explain.log_min_duration': '0',
      'auto_explain.log_level': 'notice',
      'auto_explain.log_format': 'json',
    })) {
      await c.query(on ? `ALTER DATABASE "${database}" SET ${name} = '${value}'` : `ALTER DATABASE "${database}" RESET ${name}`);
    }
  });
}
