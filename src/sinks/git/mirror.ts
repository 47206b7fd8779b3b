import { createHash, randomBytes } from 'node:crypto';
import { constants, type WriteFileOptions } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { deflate } from 'node:zlib';
import git, { type HttpClient, type ReadTreeResult, type TreeEntry } from 'isomorphic-git';
import { replaceFile } from '../../fs/write-file-atomic.js';
import type { AuthHandlers } from './git-auth.js';

/**
 * The persistent local mirror: a bare repository (objects and refs only, no working tree) in
 * `<mirrorDir>/.git`, tracking one branch of one remote. It is cloned shallow (depth 1) once and
 * fetched afterwards; new files become blobs and trees written directly, so nothing is ever
 * checked out.
 */

export const REMOTE = 'origin';
/** Local ref the commit to push is written to, so a rejected push leaves the branch refs alone. */
const EXPORT_REF = 'refs/kollect/export';
/**
 * Each fetch that brings objects adds a pack and isomorphic-git has no gc: past this many (about
 * a week of hourly exports), the mirror is recloned. Fetches are incremental, so packs are small;
 * a reclone downloads the branch's whole tip, so it should stay rare.
 */
export const MAX_PACKS = 168;
/** Commits pushed from one clone before it is recloned (about a week of hourly exports). */
export const MAX_COMMITS_PER_CLONE = 168;

export function gitdirOf(mirrorDir: string): string {
  return join(mirrorDir, '.git');
}

/** The object id git gives a blob with this content (SHA-1 of `blob <size>\0<content>`). */
export function blobOid(content: Buffer): string {
  return createHash('sha1').update(`blob ${content.length}\0`).update(content).digest('hex');
}

const deflateAsync = promisify(deflate);

const orNothingIfMissing = (error: unknown): never[] => {
  if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
  throw error;
};

async function isReadable(path: string): Promise<boolean> {
  try {
    await fsp.access(path, constants.R_OK);
    return true;
  } catch (error) {
    if (['ENOENT', 'EACCES'].includes((error as NodeJS.ErrnoException).code ?? '')) return false;
    throw error;
  }
}

/** The start of a version 2 pack index, the version git and isomorphic-git write. */
const PACK_INDEX_V2 = Buffer.from([0xff, 0x74, 0x4f, 0x63, 0, 0, 0, 2]);
const FANOUT_AT = PACK_INDEX_V2.length;
const OIDS_AT = FANOUT_AT + 256 * 4;

/**
 * Whether a pack index lists `oid`: the fan-out table gives the range of sorted object ids that
 * start with its first byte, searched by halves (git's pack-format.txt). A damaged index throws.
 */
function packIndexHolds(index: Buffer, oid: string): boolean {
  if (!index.subarray(0, FANOUT_AT).equals(PACK_INDEX_V2)) throw new Error('a pack index is not of version 2');
  const id = Buffer.from(oid, 'hex');
  const first = id[0] ?? 0;
  let low = first === 0 ? 0 : index.readUInt32BE(FANOUT_AT + (first - 1) * 4);
  let high = index.readUInt32BE(FANOUT_AT + first * 4);
  while (low < high) {
    const middle = (low + high) >>> 1;
    const at = OIDS_AT + middle * 20;
    const order = index.compare(id, 0, 20, at, at + 20);
    if (order === 0) return true;
    if (order < 0) low = middle + 1;
    else high = middle;
  }
  return false;
}

/** Inside the repository (so on its filesystem), where its files are written before they are renamed into place. */
const STAGING_DIR = 'kollect-staging';

/**
 * node:fs for isomorphic-git, except that every file it writes (loose objects, fetched packs and
 * their indexes, refs, config) is written whole into the staging folder and renamed into place.
 * A run killed mid-write (an OOM kill, an evicted pod) then leaves the old file or none, never a
 * cut one; isomorphic-git never rewrites an object file that exists, so a cut object would stay
 * and break every later push that reads it.
 */
function atomicFs(gitdir: string) {
  const staging = join(gitdir, STAGING_DIR);
  const writeFile = async (path: string, content: string | Uint8Array, options?: WriteFileOptions): Promise<void> => {
    await fsp.mkdir(staging, { recursive: true });
    await replaceFile(path, join(staging, randomBytes(8).toString('hex')), content, options);
  };
  const { readFile, mkdir, rmdir, unlink, stat, lstat, readdir, readlink, symlink, rm } = fsp;
  return { promises: { readFile, writeFile, mkdir, rmdir, unlink, stat, lstat, readdir, readlink, symlink, rm } };
}

const isNotFound = (error: unknown): boolean => (error as { code?: string }).code === 'NotFoundError';

export interface MirrorOptions {
  mirrorDir: string;
  url: string;
  /** Branch name, e.g. `main`. */
  ref: string;
  http: HttpClient;
  auth: AuthHandlers;
}

export class Mirror {
  readonly gitdir: string;
  /** isomorphic-git's object cache (pack indexes): one per run. */
  private readonly cache: object = {};
  /** The filesystem isomorphic-git reads and writes the repository through. */
  private readonly fs: ReturnType<typeof atomicFs>;

  constructor(private readonly options: MirrorOptions) {
    this.gitdir = gitdirOf(options.mirrorDir);
    this.fs = atomicFs(this.gitdir);
  }

  /** Removes what a run killed mid-write left in the staging folder (a fetched pack may be large). */
  async discardStaged(): Promise<void> {
    await fsp.rm(join(this.gitdir, STAGING_DIR), { recursive: true, force: true });
  }

  private get branch(): string {
    return `refs/heads/${this.options.ref}`;
  }

  private get tracking(): string {
    return `refs/remotes/${REMOTE}/${this.options.ref}`;
  }

  /** Whether a mirror repository exists on disk (it may still be empty or damaged). */
  async exists(): Promise<boolean> {
    try {
      return (await fsp.stat(join(this.gitdir, 'config'))).isFile();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    }
  }

  /** The remote URL the mirror was cloned from. */
  async remoteUrl(): Promise<string | undefined> {
    const value: unknown = await git.getConfig({ fs: this.fs, gitdir: this.gitdir, path: `remote.${REMOTE}.url` });
    return typeof value === 'string' ? value : undefined;
  }

  /** Number of packfiles (grows by one per fetch that brought objects). */
  async packCount(): Promise<number> {
    return (await fsp.readdir(join(this.gitdir, 'objects', 'pack')).catch(orNothingIfMissing)).filter((f) => f.endsWith('.pack')).length;
  }

  /** Deletes whatever is there and creates an empty bare repository pointing at the remote. */
  async create(): Promise<void> {
    await fsp.rm(this.gitdir, { recursive: true, force: true });
    await git.init({ fs: this.fs, bare: true, dir: this.gitdir, gitdir: this.gitdir, defaultBranch: this.options.ref });
    await git.setConfig({ fs: this.fs, gitdir: this.gitdir, path: `remote.${REMOTE}.url`, value: this.options.url });
    await git.setConfig({ fs: this.fs, gitdir: this.gitdir, path: `remote.${REMOTE}.fetch`, value: `+${this.branch}:${this.tracking}` });
  }

  /** The remote head as last fetched or pushed, undefined when the remote branch has no commit (yet). */
  async head(): Promise<string | undefined> {
    try {
      return await git.resolveRef({ fs: this.fs, gitdir: this.gitdir, ref: this.tracking });
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** What every exchange with the remote needs: the repository, the URL and the credentials. */
  private remoteOptions() {
    const { onAuth, onAuthFailure } = this.options.auth;
    return {
      fs: this.fs,
      http: this.options.http,
      gitdir: this.gitdir,
      cache: this.cache,
      url: this.options.url,
      remote: REMOTE,
      ...(onAuth ? { onAuth } : {}),
      onAuthFailure,
    };
  }

  /**
   * Fetches the branch's tip and returns it, or undefined when the remote is empty or has no such
   * branch yet. The first fetch is a clone of depth 1 (only the newest tree is needed); later
   * ones negotiate from the commit we have and bring only what other writers added since. A
   * depth-1 fetch every time would re-download the whole tree of the branch (every cluster's
   * files) at each export: git upload-pack sends a new shallow tip whole, whatever we have.
   */
  async fetch(): Promise<string | undefined> {
    const cloned = (await this.head()) !== undefined;
    let result;
    try {
      result = await git.fetch({
        ...this.remoteOptions(),
        ref: this.options.ref,
        remoteRef: this.options.ref,
        singleBranch: true,
        ...(cloned ? {} : { depth: 1 }),
        tags: false,
      });
    } catch (error) {
      // The remote has refs but not this branch: it is created by the first push.
      if (isNotFound(error) && (error as { data?: { what?: string } }).data?.what === this.options.ref) return undefined;
      throw error;
    }
    if (result.fetchHead === null) return undefined;
    // Our local branch names what we have, so the next fetch negotiates from it.
    await git.writeRef({ fs: this.fs, gitdir: this.gitdir, ref: this.branch, value: result.fetchHead, force: true });
    await git.writeRef({ fs: this.fs, gitdir: this.gitdir, ref: this.tracking, value: result.fetchHead, force: true });
    return result.fetchHead;
  }

  /** Reads a tree (or a commit's tree). */
  async readTree(oid: string): Promise<ReadTreeResult> {
    return git.readTree({ fs: this.fs, gitdir: this.gitdir, oid, cache: this.cache });
  }

  async readBlob(oid: string): Promise<Buffer> {
    const { blob } = await git.readBlob({ fs: this.fs, gitdir: this.gitdir, oid, cache: this.cache });
    return Buffer.from(blob.buffer, blob.byteOffset, blob.byteLength);
  }

  /** Every blob below `prefix` in the commit's tree, by path. Trees elsewhere are not read. */
  async listFiles(commit: string, prefix: string): Promise<Map<string, string>> {
    return this.files(commit, prefix);
  }

  /**
   * What listFiles() gives, after checking that the mirror can serve an export from `commit`;
   * throws when it cannot. Every tree anywhere in the commit is read (a push reads them all to
   * decide what to send), and every blob below `prefix` (the files an export compares, and reads
   * when it renders them) must be present. Blobs elsewhere are never read by an export, so they
   * are not checked; blobs below `prefix` are looked up, not read: reading a packed one would
   * inflate it, and after a clone every one of them is packed.
   */
  async checkedFiles(commit: string, prefix: string): Promise<Map<string, string>> {
    const isStored = await this.storedObjects();
    return this.files(commit, prefix, async (oid, path) => {
      if (!(await isStored(oid))) throw new Error(`object ${oid} (${path}) is missing`);
    });
  }

  /** The walk of listFiles() and checkedFiles(): with `check`, through every tree, checking each blob below `prefix`. */
  private async files(commit: string, prefix: string, check?: (oid: string, path: string) => Promise<void>): Promise<Map<string, string>> {
    const files = new Map<string, string>();
    const below = (path: string): boolean => prefix === '' || path.startsWith(`${prefix}/`);
    const towards = (path: string): boolean => below(path) || prefix === path || prefix.startsWith(`${path}/`);
    const walk = async (tree: string, base: string): Promise<void> => {
      for (const entry of (await this.readTree(tree)).tree) {
        const path = base === '' ? entry.path : `${base}/${entry.path}`;
        if (entry.type === 'tree') {
          if (check || towards(path)) await walk(entry.oid, path);
        } else if (entry.type === 'blob' && below(path)) {
          await check?.(entry.oid, path);
          files.set(path, entry.oid);
        }
      }
    };
    await walk(commit, '');
    return files;
  }

  /**
   * A lookup of the objects stored in the mirror as it is now, that reads none of them: a loose
   * object file that can be read, or an entry of a pack index whose pack is there.
   */
  private async storedObjects(): Promise<(oid: string) => Promise<boolean>> {
    const packDir = join(this.gitdir, 'objects', 'pack');
    const indexes: Buffer[] = [];
    for (const file of await fsp.readdir(packDir).catch(orNothingIfMissing)) {
      if (!file.endsWith('.idx')) continue;
      // An index without its pack (or a pack we cannot read) stores nothing.
      if (!(await isReadable(join(packDir, `${file.slice(0, -'.idx'.length)}.pack`)))) continue;
      indexes.push(await fsp.readFile(join(packDir, file)));
    }
    return async (oid) =>
      (await isReadable(join(this.gitdir, 'objects', oid.slice(0, 2), oid.slice(2)))) || indexes.some((index) => packIndexHolds(index, oid));
  }

  /**
   * Stores a blob whose oid the caller computed (blobOid), as a loose object deflated at zlib
   * level 1 (git's own core.looseCompression) on the thread pool. isomorphic-git's writeBlob
   * would hash the bytes again and deflate at the default level: about 5x slower on a first
   * export, and the pushed pack is deflated anew anyway.
   */
  async writeBlob(content: Buffer, oid: string): Promise<void> {
    const object = await deflateAsync(Buffer.concat([Buffer.from(`blob ${content.length}\0`), content]), { level: 1 });
    await git.writeObject({ fs: this.fs, gitdir: this.gitdir, type: 'blob', object, format: 'deflated', oid });
  }

  /**
   * Applies `changes` (path to blob oid, or null to remove) to the tree of `base` and writes the
   * changed trees bottom-up. Untouched subtrees keep their oids and are not even read. Returns
   * the new root tree.
   */
  async updateTree(baseTree: string | undefined, changes: Map<string, string | null>): Promise<string> {
    const root = await this.updateSubtree(baseTree, changes);
    return root ?? git.writeTree({ fs: this.fs, gitdir: this.gitdir, tree: [] });
  }

  private async updateSubtree(baseTree: string | undefined, changes: Map<string, string | null>): Promise<string | undefined> {
    const entries = new Map<string, TreeEntry>();
    if (baseTree !== undefined) for (const entry of (await this.readTree(baseTree)).tree) entries.set(entry.path, entry);
    const nested = new Map<string, Map<string, string | null>>();
    let changed = false;
    for (const [path, oid] of changes) {
      const slash = path.indexOf('/');
      if (slash < 0) {
        const before = entries.get(path);
        if (oid === null) {
          if (before) changed = entries.delete(path);
        } else if (before?.oid !== oid || before.type !== 'blob') {
          entries.set(path, { mode: '100644', path, oid, type: 'blob' });
          changed = true;
        }
        continue;
      }
      const dir = path.slice(0, slash);
      let sub = nested.get(dir);
      if (!sub) nested.set(dir, (sub = new Map()));
      sub.set(path.slice(slash + 1), oid);
    }
    for (const [dir, sub] of nested) {
      const before = entries.get(dir);
      const next = await this.updateSubtree(before?.type === 'tree' ? before.oid : undefined, sub);
      if (next === undefined) {
        if (before) changed = entries.delete(dir);
      } else if (before?.oid !== next) {
        entries.set(dir, { mode: '040000', path: dir, oid: next, type: 'tree' });
        changed = true;
      }
    }
    if (!changed) return baseTree;
    if (entries.size === 0) return undefined;
    return git.writeTree({ fs: this.fs, gitdir: this.gitdir, tree: [...entries.values()] });
  }

  async writeCommit(options: {
    tree: string;
    parent: string | undefined;
    author: { name: string; email: string };
    message: string;
    when: Date;
  }): Promise<string> {
    const person = { name: options.author.name, email: options.author.email, timestamp: Math.floor(options.when.getTime() / 1000), timezoneOffset: 0 };
    return git.writeCommit({
      fs: this.fs,
      gitdir: this.gitdir,
      commit: { tree: options.tree, parent: options.parent ? [options.parent] : [], author: person, committer: person, message: options.message },
    });
  }

  /**
   * Pushes `commit` to the remote branch, as a fast-forward only. Resolves when the remote took
   * it; rejects (PushRejectedError, GitPushError) when another writer moved the branch.
   */
  async push(commit: string): Promise<void> {
    await git.writeRef({ fs: this.fs, gitdir: this.gitdir, ref: EXPORT_REF, value: commit, force: true });
    await git.push({ ...this.remoteOptions(), ref: EXPORT_REF, remoteRef: this.branch });
    await git.writeRef({ fs: this.fs, gitdir: this.gitdir, ref: this.tracking, value: commit, force: true });
    await git.writeRef({ fs: this.fs, gitdir: this.gitdir, ref: this.branch, value: commit, force: true });
  }
}
