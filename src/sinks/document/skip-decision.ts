import { digest } from '../../rows/checksum.js';
import type { CollectStore } from '../../store/collect-store.js';
import type { SinkPlan, SkipReason } from '../sink.js';
import { FileChanges } from './file-changes.js';
import { shardPathLayout } from './shard-path.js';

/**
 * Whether a document sink that exports on a cadence (Git, S3) may skip an export, decided from
 * its own state of the last export, without any request.
 */

/** The last successful export of a sink's target (a Git ref, a bucket's prefix), as its state keeps it. */
export interface LastExport {
  /** Where it went, without credentials; a state of another target is ignored. */
  url: string;
  cluster: string;
  /** Payload fingerprint (see payloadFingerprint). */
  fingerprint: string;
  /** ISO time of the export (a write, or a check that found the target already up to date). */
  exportedAt: string;
}

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
  /** `ref`: the target as messages name it (a Git ref, `s3://bucket/prefix`). */
  config: { ref: string; exportMinInterval: number },
  last: LastExport | undefined,
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
export function skippedPlan(config: { name: string; type: SinkPlan['type']; pathTemplate: string }, store: CollectStore, skipped: SkipReason): SinkPlan {
  const layout = shardPathLayout(config.pathTemplate, store.cluster, config.name);
  const files = new FileChanges();
  for (const shard of store.shards) files.record(shard.key, layout.pathFor(shard.key), 'unchanged');
  return { sink: config.name, type: config.type, unit: 'files', skipped, totals: files.totals, shards: files.shards };
}

/**
 * Digest of everything that decides the files this cluster exports: every shard's fingerprint,
 * the cluster, the path template and the set of incompletely listed types, namespaces and groups
 * (whose rows are carried over from the existing files, so a change in that set changes the output).
 */
export function payloadFingerprint(store: CollectStore, pathTemplate: string): string {
  const shards = store.shards.map((s) => `${s.key}=${s.fingerprint}`).sort();
  const incomplete = [
    ...store.incompleteResources().map((r) => `${r.group}/${r.resource}${r.incompleteNamespaces ? `:${r.incompleteNamespaces.join(',')}` : ''}`),
    ...store.manifest.discoveryFailed.map((f) => `${f.group}/*`),
  ].sort();
  return digest(JSON.stringify({ cluster: store.cluster, pathTemplate, shards, incomplete }));
}
