import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeFileAtomic } from '../../fs/write-file-atomic.js';
import type { DocumentMemo } from '../document/compare-documents.js';
import type { LastExport } from '../document/skip-decision.js';

/**
 * What the Git sink remembers between runs, per ref, in a small JSON file beside the mirror:
 * the payload fingerprint last pushed and when, so that an unchanged or too early export is
 * decided without any network request (the seed's "checksum fingerprint skip").
 */

export const STATE_FILE = 'kollect-state.json';
const STATE_VERSION = 1;

/** The last successful export of one ref. */
export interface RefState extends LastExport {
  /** Commit the ref pointed at afterwards. */
  commit: string | null;
  /** What each shard's file held after it (its version is the blob id). */
  shards: Record<string, DocumentMemo>;
}

export interface GitSinkState {
  version: number;
  refs: Record<string, RefState>;
  /**
   * Commits pushed from the mirror since it was (re)cloned: each leaves loose objects behind
   * (isomorphic-git has no gc), so past a bound the mirror is recloned to stay small.
   */
  mirrorCommits?: number;
}

export function statePath(mirrorDir: string): string {
  return join(mirrorDir, STATE_FILE);
}

/** Reads the state; a missing, unreadable or foreign file is an empty state (a full export follows). */
export async function loadState(mirrorDir: string): Promise<GitSinkState> {
  let text: string;
  try {
    text = await readFile(statePath(mirrorDir), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: STATE_VERSION, refs: {} };
    throw error;
  }
  try {
    const parsed = JSON.parse(text) as Partial<GitSinkState>;
    if (parsed.version !== STATE_VERSION || typeof parsed.refs !== 'object' || parsed.refs === null) return { version: STATE_VERSION, refs: {} };
    return { version: STATE_VERSION, refs: parsed.refs, mirrorCommits: typeof parsed.mirrorCommits === 'number' ? parsed.mirrorCommits : 0 };
  } catch (error) {
    if (error instanceof SyntaxError) return { version: STATE_VERSION, refs: {} };
    throw error;
  }
}

/** Replaces the state atomically: readers see old or new, never half. */
export async function saveState(mirrorDir: string, state: GitSinkState): Promise<void> {
  await writeFileAtomic(statePath(mirrorDir), `${JSON.stringify(state, null, 2)}\n`);
}
