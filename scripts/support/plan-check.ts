import { loggedPlanOf, nestedLoopsOverStaging, nodesOf, type LoggedPlan } from '../../test/support/plan-nodes.js';
import { exportWithKollect, type ExportFigure } from './fleet-load.js';
import type { NoticeProxy } from './notice-proxy.js';

/** Where an export ran: the items table (unquoted, in `public`), whether it is partitioned by cluster, and how many rows other clusters hold. */
export interface PlanScene {
  table: string;
  partitioned: boolean;
  cluster: string;
  otherRows: number;
}

/**
 * What is wrong with a plan of an export's statement, as bench:scale judges it whatever the time:
 * a nested loop over the staging table, or a sequential scan of a relation that holds other
 * clusters' rows (the plain table once other clusters are in it; of a table partitioned by
 * cluster, any partition but the cluster's own, named as scripts/support/partitioned-table.ts names it).
 */
export function planFaults(plan: LoggedPlan, scene: PlanScene): string[] {
  const own = `${scene.table}_c_${scene.cluster.replace(/-/g, '_')}`;
  const query = plan['Query Text'].replace(/\s+/g, ' ').trim().slice(0, 80);
  const faults = nestedLoopsOverStaging(plan.Plan).map(() => `nested loop over staging in: ${query}`);
  for (const node of nodesOf(plan.Plan)) {
    const relation = node['Relation Name'] ?? '';
    if (node['Node Type'] !== 'Seq Scan' || !relation.startsWith(scene.table)) continue;
    if (scene.partitioned ? relation !== own : scene.otherRows > 0) faults.push(`seq scan of ${relation} in: ${query}`);
  }
  return faults;
}

/**
 * `kollect export` (the built CLI) through `proxy`, with the plans of the statements it ran
 * (the database must explain every statement: test/support/plan-nodes.ts, explainEveryStatement).
 */
export async function explainedExport(proxy: NoticeProxy, store: string, config: string): Promise<{ run: ExportFigure; plans: LoggedPlan[] }> {
  proxy.take();
  const run = await exportWithKollect(store, config, proxy.url);
  const plans = proxy
    .take()
    .filter((notice) => notice.startsWith('duration:'))
    .map(loggedPlanOf);
  if (plans.length === 0) throw new Error(`export of ${store}: no plan was explained (is auto_explain loaded?)`);
  return { run, plans };
}
