import type { GitSinkConfig } from './config.js';
import type { CollectStore } from '../../store/collect-store.js';
import { FileChanges } from '../document/file-changes.js';
import { shardPathLayout } from '../document/shard-path.js';
import type { SinkPlan, SkipReason } from '../sink.js';
import type { RefState } from './sink-state.js';

/** This export, as the skip decision sees it. */
export interface ExportAttempt {
  /** The remote URL without its query, as the state keeps it. */
  url: string;
  cluster: string;
  /** The payload fingerprint (payloadFingerprint). */
  fingerprint: string;
  /** `--force`: ignore exportMinInterval. */
  force: boolean;
  now: Date;
}

/**
 * Whether an export of the ref may be skipped, from the state of its last export only: no
 * network. Skipped when the payload is the one last pushed, or when exportMinInterval has not
 * passed since (unless forced). A state of another URL or cluster decides nothing.
 */
export function skipReason(
  config: Pick<GitSinkConfig, 'ref' | 'exportMinInterval'>,
  last: RefState | undefined,
  attempt: ExportAttempt,
): SkipReason | undefined {
  if (!last || last.url !== attempt.url || last.cluster !== attempt.cluster) return undefined;
  if (last.fingerprint === attempt.fingerprint) {
    return { reason: 'unchanged', message: `payload unchanged since the export of ${last.exportedAt} to ${config.ref}` };
  }
  const elapsed = attempt.now.getTime() - Date.parse(last.exportedAt);
  if (!attempt.force && elapsed >= 0 && elapsed < config.exportMinInterval) {
    const next = new Date(Date.parse(last.exportedAt) + config.exportMinInterval).toISOString();
    return { reason: 'interval', message: `last export of ${config.ref} at ${last.exportedAt}; exportMinInterval not passed until ${next} (use --force)` };
  }
  return undefined;
}

/** The plan of a skipped export: every shard's file unchanged. */
export function skippedPlan(config: Pick<GitSinkConfig, 'name' | 'pathTemplate'>, store: CollectStore, skipped: SkipReason): SinkPlan {
  const layout = shardPathLayout(config.pathTemplate, store.cluster, config.name);
  const files = new FileChanges();
  for (const shard of store.shards) files.record(shard.key, layout.pathFor(shard.key), 'unchanged');
  return { sink: config.name, type: 'git', unit: 'files', skipped, totals: files.totals, shards: files.shards };
}
