import { join } from 'node:path';
import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../../fs/write-file-atomic.js';
import type { DocumentMemo } from '../document/compare-documents.js';
import type { LastExport } from '../document/skip-decision.js';

/**
 * The per-cluster manifest.json of the s3 sink: the commit point of an export, written last.
 * Readers trust it, not a bucket listing: it names each shard's object with its SHA-256, rows and
 * bytes, when the cluster was collected, and which types were listed incompletely.
 */

export const MANIFEST_VERSION = 1;

export interface ManifestShard {
  /** The object's key relative to the sink's prefix (the pathTemplate's path). */
  path: string;
  /** SHA-256 of the document's bytes (uncompressed); also in the object's metadata. */
  sha256: string;
  rows: number;
  bytes: number;
  /** The store fingerprint of the shard's rows, so a lost local state is rebuilt from the manifest; '' for a document only carried over. */
  fingerprint: string;
}

export interface S3Manifest {
  version: number;
  cluster: string;
  collectedAt: string;
  /** The payload fingerprint of the export (payloadFingerprint). */
  fingerprint: string;
  /** Incompletely listed types (`pods`, `deployments.apps`): their rows were carried over, not replaced. */
  incomplete: string[];
  shards: Record<string, ManifestShard>;
}

/** The key of a cluster's manifest, under the sink's prefix. */
export function manifestKey(keyOf: (path: string) => string, cluster: string): string {
  return keyOf(`manifests/${cluster}/manifest.json`);
}

/** Parses a manifest; anything else (another program's file, a damaged one) is undefined, and the export starts afresh over it. */
export function parseManifest(text: string, cluster: string): S3Manifest | undefined {
  try {
    const manifest = JSON.parse(text) as Partial<S3Manifest>;
    if (manifest.version !== MANIFEST_VERSION || manifest.cluster !== cluster || typeof manifest.shards !== 'object' || manifest.shards === null)
      return undefined;
    return manifest as S3Manifest;
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

/** The memos (DocumentMemo) a manifest gives: what each shard's object held. */
export function manifestMemos(manifest: S3Manifest | undefined): Record<string, DocumentMemo> {
  const memos: Record<string, DocumentMemo> = {};
  for (const [shard, entry] of Object.entries(manifest?.shards ?? {})) memos[shard] = { fingerprint: entry.fingerprint, version: entry.sha256 };
  return memos;
}

/** What the sink remembers locally of its last export: enough to skip an unchanged one without a request. */
export interface S3SinkState extends LastExport {
  /** The manifest's ETag after it: the If-Match of the next export. */
  manifestEtag: string;
}

const STATE_VERSION = 1;

/** The state file of one sink and cluster, in the sink's state folder. */
const statePath = (dir: string, cluster: string): string => join(dir, `kollect-s3-state-${cluster}.json`);

/** The sink's state folder: `$KOLLECT_GIT_MIRROR_DIR/<name>` (the volume the Git mirrors use), else `.kollect/s3/<name>`. */
export function s3StateDir(name: string, env: NodeJS.ProcessEnv): string {
  return env.KOLLECT_GIT_MIRROR_DIR ? join(env.KOLLECT_GIT_MIRROR_DIR, name) : join('.kollect', 's3', name);
}

/** The state; undefined when missing or unreadable (the manifest is then read again: one GET). */
export async function loadS3State(dir: string, cluster: string): Promise<S3SinkState | undefined> {
  let text: string;
  try {
    text = await readFile(statePath(dir, cluster), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as { version?: number; state?: S3SinkState };
    return parsed.version === STATE_VERSION ? parsed.state : undefined;
  } catch (error) {
    if (error instanceof SyntaxError) return undefined;
    throw error;
  }
}

export async function saveS3State(dir: string, state: S3SinkState): Promise<void> {
  await writeFileAtomic(statePath(dir, state.cluster), `${JSON.stringify({ version: STATE_VERSION, state }, null, 2)}\n`);
}
