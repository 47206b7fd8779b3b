import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { compareKeys } from '../compare.js';
import { StoreWriteError } from '../errors.js';
import { FingerprintAccumulator } from './fingerprint.js';
import type { SpoolPage } from './spool-page.js';
import { MANIFEST_FILE, ROWS_DIR, spoolFileOf, STORE_FORMAT, type Manifest, type ResourceStatus, type Segment, type ShardEntry } from './manifest.js';

/** What the writer needs to know of a listed type. */
export type SpooledType = Omit<ResourceStatus, 'complete' | 'reason' | 'message' | 'rows'>;

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
  private status: Pick<ResourceStatus, 'complete' | 'reason' | 'message'> = { complete: false, reason: 'interrupted' };
  private readonly file: string;

  constructor(
    private readonly root: string,
    readonly type: SpooledType,
    /** The store being written (its final folder), for messages. */
    private readonly storeDir: string = root,
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
      const { bytesWritten } = await this.handle.writev(buffers);
      if (bytesWritten !== this.buffered) throw new Error(`short write: ${bytesWritten} of ${this.buffered} bytes`);
    } catch (error) {
      // A full or read-only volume shows here first, in the middle of a list.
      throw unwritable(this.storeDir, path, error);
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
  async incomplete(reason: 'forbidden' | 'error' | 'interrupted' | 'invalid-name', message: string): Promise<void> {
    await this.flush();
    await this.close();
    this.status = { complete: false, reason, message };
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

/** File system errors that say where the store lives is not usable, rather than a bug. */
const UNWRITABLE = new Set(['EACCES', 'EPERM', 'EROFS', 'EBUSY', 'EXDEV', 'ENOSPC', 'EDQUOT', 'ENOTDIR']);

/** A typed error for an unusable store location; anything else stays as it is. */
function unwritable(dir: string, path: string, error: unknown): unknown {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === undefined || !UNWRITABLE.has(code)) return error;
  return new StoreWriteError(
    `cannot write the collect store ${dir}: ${code} on ${path}. The store and the folder above it must be writable ` +
      '(a new store is written beside the old one, then renamed over it): set store.dir (or --store) to a folder on a writable volume, ' +
      'with the volume mounted on its parent rather than on store.dir itself',
    { dir, path, errno: code },
    { cause: error },
  );
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
  ) {}

  static async create(dir: string, cluster: string): Promise<StoreWriter> {
    const target = resolve(dir);
    const tmpDir = `${target}.partial-${randomBytes(4).toString('hex')}`;
    await mkdir(join(tmpDir, ROWS_DIR), { recursive: true }).catch((error: unknown) => {
      throw unwritable(target, tmpDir, error);
    });
    return new StoreWriter(target, tmpDir, cluster);
  }

  /** Starts spooling a resource type. */
  spool(type: SpooledType): TypeSpool {
    const spool = new TypeSpool(this.tmpDir, type, this.dir);
    this.spools.push(spool);
    return spool;
  }

  /** Writes the manifest and moves the store into place. */
  async finish(): Promise<Manifest> {
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
    const manifest: Manifest = {
      format: STORE_FORMAT,
      cluster: this.cluster,
      collectedAt: this.collectedAt,
      finishedAt: new Date().toISOString(),
      resources: this.spools.map((s) => s.resourceStatus()),
      shards: shardEntries,
      totals: {
        rows: shardEntries.reduce((n, s) => n + s.rows, 0),
        bytes: shardEntries.reduce((n, s) => n + s.bytes, 0),
      },
    };
    const manifestPath = join(this.tmpDir, MANIFEST_FILE);
    await writeFile(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`).catch((error: unknown) => {
      throw unwritable(this.dir, manifestPath, error);
    });
    // Swap: the old store is removed only once the new one is complete on disk.
    const old = `${this.dir}.old-${randomBytes(4).toString('hex')}`;
    const hadOld = await rename(this.dir, old).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return false;
        throw unwritable(this.dir, this.dir, error);
      },
    );
    await rename(this.tmpDir, this.dir).catch((error: unknown) => {
      throw unwritable(this.dir, this.dir, error);
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
