import type { PostgresSinkConfig } from './config.js';
import { LockBusyError } from '../../errors.js';
import type { SinkContext } from '../sink.js';
import { pgErrorOf } from './pg-errors.js';
import { exportLockKey, tableRefs } from './schema.js';
import type { Run } from './transaction.js';

/**
 * Takes the advisory transaction lock on (table, cluster): two runs of one cluster never
 * overlap, other clusters proceed side by side. With `onLocked: fail` a held lock is
 * LockBusyError at once; with `wait` the wait counts against the statement timeout, and running
 * out of it is LockBusyError too.
 */
export async function takeExportLock(run: Run, config: PostgresSinkConfig, cluster: string, ctx: Pick<SinkContext, 'signal' | 'log'>): Promise<void> {
  const table = tableRefs(config).itemsLabel;
  const lockKey = exportLockKey(config, cluster);
  const busy = (detail: string): LockBusyError =>
    new LockBusyError(`sink "${config.name}": another kollect run of cluster ${cluster} ${detail}`, { sink: config.name, cluster, table });
  if (config.onLocked === 'fail') {
    const got = await run<{ locked: boolean }>('SELECT pg_try_advisory_xact_lock($1::bigint) AS locked', [lockKey]);
    if (!got.rows[0]?.locked) throw busy(`is exporting to table ${table}; retry later or set onLocked: wait`);
    return;
  }
  ctx.log.debug('waiting for the export lock', { sink: config.name, cluster });
  await run('SELECT pg_advisory_xact_lock($1::bigint)', [lockKey]).catch((error: unknown) => {
    // The wait counts against statement_timeout (set with SET LOCAL by begin(), before the
    // lock); 57014 without an abort means it ran out.
    if (pgErrorOf(error)?.code === '57014' && !ctx.signal.aborted) {
      throw busy(
        `held the export lock of table ${table} for longer than statementTimeout (${config.statementTimeout} ms); look for a stuck run in pg_stat_activity (application_name kollect)`,
      );
    }
    throw error;
  });
}
