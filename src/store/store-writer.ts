import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { compareKeys } from '../compare.js';
import { StoreWriteError } from '../errors.js';
import { formatBytes } from '../format.js';
import { FingerprintAccumulator } from './fingerprint.js';
import type { SpoolPage } from './spool-page.js';
import {
  STORE_MANIFEST_FILE,
  ROWS_DIR,
  spoolFileOf,
  STORE_FORMAT,
  type StoreManifest,
  type ResourceStatus,
  type Segment,
  type ShardEntry,
} from './store-manifest.js';

/** What the writer needs to know of a listed type. */
export type SpooledType = Omit<ResourceStatus, 'complete' | 'reason' | 'message' | 'rows' | 'incompleteNamespaces'>;

/** What discovery resolved, for the manifest: what the configuration covers, and what was not served or failed. */
export type DiscoveryRecord = Pick<StoreManifest, 'scope' | 'notServed' | 'discoveryFailed'>;

/** Buffered bytes per type before its files are appended to; bounds memory per list. */
const FLUSH_BYTES = 4 << 20;

interface ShardPart {
  /** Lines not yet written. */
  buffer: Uint8Array[];
  pending: number;
  /** The shard's rows of this type as JSON lines, in bytes (ShardLines.jsonBytes), written or not. */
  bytes: number;
  fingerprint: FingerprintAccumulator;
  /** Where the written lines are in the type's file, in order. */
  segments: Segment[];
}

/**
 * Spools the rows of one resource type into one file (`rows/<type>.tsv`), where each flush
 * writes the buffered lines shard after shard and the shards' segments record where they went.
 * One file per type and not per (shard, type): creating (and, an hour later, deleting) thousands
 * of small files cost more CPU in the kernel than encoding the rows (ext4's inode allocation,
 * measured at 100,000 objects), and a cluster-wide list comes in namespace order anyway, so a
 * shard's rows of one type are one or two segments. A relist (after a 410) calls `reset()`,
 * which truncates what this type wrote, so rows are never counted twice.
 */
export class TypeSpool {
  private parts = new Map<string, ShardPart>();
  private buffered = 0;
  /** Bytes in the file. */
  private written = 0;
  private handle: FileHandle | undefined;
  private status: Pick<ResourceStatus, 'complete' | 'reason' | 'message' | 'incompleteNamespaces'> = { complete: false, reason: 'interrupted' };
  private readonly file: string;

  constructor(
    private readonly root: string,
    readonly type: SpooledType,
    /** The typed error for a write that failed at `path` (the writer's `unwritable`). */
    private readonly unwritable: (path: string, error: unknown) => unknown,
  ) {
    this.file = spoolFileOf(type);
  }

  private part(shardKey: string): ShardPart {
    let part = this.parts.get(shardKey);
    if (!part) {
      part = { buffer: [], pending: 0, bytes: 0, fingerprint: new FingerprintAccumulator(), segments: [] };
      this.parts.set(shardKey, part);
    }
    return part;
  }

  /** Adds one page of serialized rows; appends to disk once enough is buffered. */
  async addPage(page: SpoolPage): Promise<void> {
    for (const { shard, lines, rows, checksumSum, jsonBytes } of page) {
      const part = this.part(shard);
      part.buffer.push(lines);
      part.pending += lines.byteLength;
      part.bytes += jsonBytes;
      part.fingerprint.addSum(rows, checksumSum);
      this.buffered += lines.byteLength;
    }
    if (this.buffered >= FLUSH_BYTES) await this.flush();
  }

  /** Appends every buffered line to the type's file in one write, shard after shard. */
  private async flush(): Promise<void> {
    if (this.buffered === 0) return;
    const pending = [...this.parts.values()].filter((part) => part.pending > 0);
    const buffers = pending.flatMap((part) => part.buffer);
    const path = join(this.root, this.file);
    try {
      this.handle ??= await open(path, 'a');
      await writeAll(this.handle, buffers);
    } catch (error) {
      // A full or read-only volume shows here first, in the middle of a list.
      throw this.unwritable(path, error);
    }
    // Segments only for what is on disk.
    for (const part of pending) {
      const last = part.segments[part.segments.length - 1];
      if (last && last.offset + last.bytes === this.written) last.bytes += part.pending;
      else part.segments.push({ file: this.file, offset: this.written, bytes: part.pending });
      this.written += part.pending;
      part.buffer = [];
      part.pending = 0;
    }
    this.buffered = 0;
  }

  /** Closes the type's file, if open. */
  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  /** Discards everything this type spooled: its list restarts from the beginning. */
  async reset(): Promise<void> {
    await this.close();
    await rm(join(this.root, this.file), { force: true });
    this.parts.clear();
    this.buffered = 0;
    this.written = 0;
  }

  /**
   * Discards what this type spooled for one shard: the list of that namespace restarts. Namespaces
   * of a type are listed one after another, so the shard's lines are the last of the file (or
   * still buffered), and the file is cut back to where they began.
   */
  async resetShard(shardKey: string): Promise<void> {
    const part = this.parts.get(shardKey);
    if (!part) return;
    this.parts.delete(shardKey);
    this.buffered -= part.pending;
    const first = part.segments[0];
    if (first === undefined) return;
    const path = join(this.root, this.file);
    try {
      await this.handle?.truncate(first.offset);
    } catch (error) {
      throw this.unwritable(path, error);
    }
    this.written = first.offset;
  }

  /** The list finished: every row of the type is spooled. */
  async complete(): Promise<void> {
    await this.flush();
    await this.close();
    this.status = { complete: true };
  }

  /**
   * The list did not finish. Rows seen so far stay in the store (they are real), but sinks
   * treat the type as partial: nothing of it is deleted.
   */
  async incomplete(reason: 'forbidden' | 'error' | 'interrupted' | 'invalid-object', message: string, incompleteNamespaces?: string[]): Promise<void> {
    await this.flush();
    await this.close();
    this.status = { complete: false, reason, message, ...(incompleteNamespaces ? { incompleteNamespaces } : {}) };
  }

  /** Bytes of the type's file, written or buffered. */
  get spooledBytes(): number {
    return this.written + this.buffered;
  }

  private get rowCount(): number {
    let rows = 0;
    for (const part of this.parts.values()) rows += part.fingerprint.rows;
    return rows;
  }

  /** @internal used by StoreWriter.finish */
  shardParts(): ReadonlyMap<string, Readonly<ShardPart>> {
    return this.parts;
  }

  resourceStatus(): ResourceStatus {
    return { ...this.type, ...this.status, rows: this.rowCount };
  }
}

/**
 * Writes every buffer, however many writes it takes: a volume that fills up takes part of a
 * write, and only the next write fails, with ENOSPC.
 */
async function writeAll(handle: FileHandle, buffers: Uint8Array[]): Promise<void> {
  let rest = buffers;
  while (rest.length > 0) {
    let { bytesWritten } = await handle.writev(rest);
    if (bytesWritten === 0) throw new Error('a write to the spool wrote nothing');
    while (rest.length > 0 && bytesWritten >= rest[0]!.byteLength) bytesWritten -= rest.shift()!.byteLength;
    if (bytesWritten > 0) rest = [rest[0]!.subarray(bytesWritten), ...rest.slice(1)];
  }
}

/** File system errors that say where the store lives is not usable, rather than a bug. */
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'EBUSY', 'EXDEV', 'ENOSPC', 'EDQUOT', 'ENOTDIR']);
/** Of those, a full volume (or quota): no mount advice, but how much room the store needs. */
const FULL = new Set(['ENOSPC', 'EDQUOT']);

/** The room a store takes while it is replaced: the new one, so far, and the previous one, which stays until the swap. */
interface StoreSpace {
  spooled: number;
  previous: number;
}

/**
 * A typed error for an unusable store location, `path` being what failed; anything else stays as
 * it is. `space`, when known, says how much room a full volume must have.
 */
export function unwritable(dir: string, path: string, error: unknown, space: StoreSpace = { spooled: 0, previous: 0 }): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined || !UNWRITABLE.has(code)) return error;
  if (FULL.has(code)) {
    // The new store will be about the previous one's size, or more: both are on the volume until the swap.
    const needed = space.previous + Math.max(space.spooled, space.previous);
    const room =
      needed === 0
        ? ''
        : ` This collection had spooled ${formatBytes(space.spooled)}, and the previous store (${formatBytes(space.previous)}) stays until the new one replaces it, ` +
          `so the volume must hold at least ${formatBytes(needed)} for the store, more as the cluster grows.`;
    return new StoreWriteError(
      `cannot write the collect store ${dir}: its volume is full (${code} on ${path}).${room} Free space on the volume, give it more room ` +
        '(a larger volume, or a higher sizeLimit on an emptyDir), or set store.dir (or --store) to a folder on a volume with room',
      { dir, path, errno: code, spooledBytes: space.spooled, previousBytes: space.previous, neededBytes: needed },
      { cause: error },
    );
  }
  return new StoreWriteError(
    `cannot write the collect store ${dir}: ${code} on ${path}. The store and the folder above it must be writable ` +
      '(a new store is written beside the old one, then renamed over it): set store.dir (or --store) to a folder on a writable volume, ' +
      'with the volume mounted on its parent rather than on store.dir itself',
    { dir, path, errno: code },
    { cause: error },
  );
}

/**
 * Bytes of the spool files of the store in `dir`: what stays on the volume until a new store
 * replaces it. Only a full volume's message uses it, so a store that is missing or cannot be read
 * counts 0 (the message then asks for less room than needed) rather than failing the collect.
 */
async function spoolBytesOf(dir: string): Promise<number> {
  const rows = join(dir, ROWS_DIR);
  try {
    const sizes = await Promise.all((await readdir(rows)).map(async (file) => (await stat(join(rows, file))).size));
    return sizes.reduce((n, size) => n + size, 0);
  } catch {
    return 0;
  }
}

/**
 * Writes a collect store. Everything goes to a temporary sibling folder that replaces the
 * target only in `finish()`, so an interrupted run leaves the previous store whole.
 */
export class StoreWriter {
  private readonly spools: TypeSpool[] = [];
  private readonly collectedAt = new Date().toISOString();

  private constructor(
    readonly dir: string,
    private readonly tmpDir: string,
    readonly cluster: string,
    /** Bytes of the previous store's spool files, which stay on the volume until finish() replaces it. */
    private readonly previousBytes: number,
  ) {}

  static async create(dir: string, cluster: string): Promise<StoreWriter> {
    const target = resolve(dir);
    const tmpDir = `${target}.partial-${randomBytes(4).toString('hex')}`;
    const previousBytes = await spoolBytesOf(target);
    await mkdir(join(tmpDir, ROWS_DIR), { recursive: true }).catch((error: unknown) => {
      throw unwritable(target, tmpDir, error, { spooled: 0, previous: previousBytes });
    });
    return new StoreWriter(target, tmpDir, cluster, previousBytes);
  }

  /** The typed error for a write of this store that failed at `path`. */
  private unwritable(path: string, error: unknown): unknown {
    const spooled = this.spools.reduce((n, spool) => n + spool.spooledBytes, 0);
    return unwritable(this.dir, path, error, { spooled, previous: this.previousBytes });
  }

  /** Starts spooling a resource type. */
  spool(type: SpooledType): TypeSpool {
    const spool = new TypeSpool(this.tmpDir, type, (path, error) => this.unwritable(path, error));
    this.spools.push(spool);
    return spool;
  }

  /** Writes the manifest and moves the store into place. */
  async finish(discovery: DiscoveryRecord): Promise<StoreManifest> {
    const shards = new Map<string, { segments: Segment[]; bytes: number; fingerprint: FingerprintAccumulator }>();
    for (const spool of this.spools) {
      for (const [key, part] of spool.shardParts()) {
        let shard = shards.get(key);
        if (!shard) {
          shard = { segments: [], bytes: 0, fingerprint: new FingerprintAccumulator() };
          shards.set(key, shard);
        }
        shard.segments.push(...part.segments);
        shard.bytes += part.bytes;
        shard.fingerprint.merge(part.fingerprint);
      }
    }
    const shardEntries: ShardEntry[] = [...shards.entries()]
      .sort(compareKeys)
      .map(([key, s]) => ({ key, rows: s.fingerprint.rows, bytes: s.bytes, fingerprint: s.fingerprint.digest(), segments: s.segments }));
    const manifest: StoreManifest = {
      format: STORE_FORMAT,
      cluster: this.cluster,
      collectedAt: this.collectedAt,
      finishedAt: new Date().toISOString(),
      resources: this.spools.map((s) => s.resourceStatus()),
      ...discovery,
      shards: shardEntries,
      totals: {
        rows: shardEntries.reduce((n, s) => n + s.rows, 0),
        bytes: shardEntries.reduce((n, s) => n + s.bytes, 0),
      },
    };
    const manifestPath = join(this.tmpDir, STORE_MANIFEST_FILE);
    await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`).catch((error: unknown) => {
      throw this.unwritable(manifestPath, error);
    });
    // Swap: the old store is removed only once the new one is complete on disk.
    const old = `${this.dir}.old-${randomBytes(4).toString('hex')}`;
    const hadOld = await rename(this.dir, old).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return false;
        throw this.unwritable(this.dir, error);
      },
    );
    await rename(this.tmpDir, this.dir).catch((error: unknown) => {
      throw this.unwritable(this.dir, error);
    });
    if (hadOld) await rm(old, { recursive: true, force: true });
    return manifest;
  }

  /** Removes the temporary folder (interrupted or failed run); the previous store stays. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.spools.map((spool) => spool.close()));
    await rm(this.tmpDir, { recursive: true, force: true });
  }
}
