import { close, fstat, open, read } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { promisify } from 'node:util';
import { join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import { NEWLINE } from '../bytes.js';
import { StoreError } from '../errors.js';
import { namespaceOfShard, type Row } from '../rows/row.js';
import { formatIssuePath } from '../config/load.js';
import {
  STORE_MANIFEST_FILE,
  STORE_FORMAT,
  STORE_FORMAT_V3,
  STORE_FORMAT_V4,
  storeManifestSchema,
  upgradeV3,
  spoolFileOf,
  type StoreManifest,
  type ResourceStatus,
  type ShardEntry,
  type TypePattern,
} from './store-manifest.js';
import { parseSpoolLine, type SegmentContext } from './spool-line.js';

/**
 * Bytes read from a spool file at a time: a batch of rows. 1 MiB batches were no faster to export
 * (bench:pg) but lived long enough to be promoted to V8's old generation, which raised the
 * exporter's peak RSS (docs/benchmarks.md, "Choices in the code").
 */
const READ_CHUNK = 256 << 10;

// Plain file descriptors, not FileHandles: the garbage collector closes a FileHandle left open
// (a store a test never closed) with a deprecation warning, which Node means to make an error.
const openFile = promisify(open);
const readAt = promisify(read);
const statFile = promisify(fstat);
const closeFile = promisify(close);

/** Opens of a store that a collect replaced meanwhile, before giving up; and the pause between them. */
const OPEN_ATTEMPTS = 5;
const OPEN_RETRY_MS = 20;

/** Which folder a path names now (device and inode), or undefined when there is none. */
async function folderIdentity(path: string): Promise<string | undefined> {
  try {
    const { dev, ino } = await stat(path);
    return `${dev}:${ino}`;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new StoreError(`cannot read the collect store ${path}: ${(error as Error).message}`, { dir: path }, { cause: error });
  }
}

/**
 * A collect store on disk, opened and validated: the manifest parses, and every spool file exists
 * with exactly the bytes of the segments that the manifest places in it. Sinks read shards from
 * it one at a time.
 *
 * Open reads only the store it opened: it opens every spool file once, with the manifest, and
 * reads through those descriptors. A collect that replaces the store meanwhile renames the folder
 * and removes the old one, and an open descriptor keeps reading its own file (the old inode) to
 * the end; a reader that opened files by path later would read another store's bytes at this
 * manifest's offsets: rows of other objects, or none. `close()` releases the descriptors.
 */
export class CollectStore {
  private readonly statusOf: ReadonlyMap<string, ResourceStatus>;
  private readonly failedGroups: ReadonlySet<string>;
  private readonly shardsByKey: ReadonlyMap<string, ShardEntry>;
  /** Each spool file's resource type. */
  private readonly typeOfFile: ReadonlyMap<string, ResourceStatus>;

  private constructor(
    readonly dir: string,
    readonly manifest: StoreManifest,
    /** The descriptor of each spool file that holds rows, opened with the manifest. */
    private readonly fds: Map<string, number>,
    /** The spool's labels and attributes are canonical JSON (kollect.store/v5 and later), as a shard document holds them. */
    readonly canonicalSpoolJson: boolean,
  ) {
    this.statusOf = new Map(manifest.resources.map((r) => [`${r.group}/${r.resource}`, r]));
    this.failedGroups = new Set(manifest.discoveryFailed.map((f) => f.group));
    this.shardsByKey = new Map(manifest.shards.map((shard) => [shard.key, shard]));
    this.typeOfFile = spoolFiles(manifest);
  }

  /**
   * Opens the store at `dir`. Readers take no lock, so that two exports of one store never wait
   * on each other and a store on a read-only volume opens; a collect may replace the store
   * meanwhile (src/store/store-writer.ts renames the folder aside, then the new one into place).
   * The manifest and the spool files must come from one store: the folder must be the same one
   * before the manifest is read and after the last spool file is opened, else the open starts again.
   */
  static async open(dir: string): Promise<CollectStore> {
    const root = resolve(dir);
    for (let attempt = 1; ; attempt++) {
      const before = await folderIdentity(root);
      let store: CollectStore | undefined;
      let failure: unknown;
      try {
        store = await CollectStore.openOnce(root);
      } catch (error) {
        failure = error;
      }
      const after = await folderIdentity(root);
      if (before !== undefined && before === after) {
        if (store) return store;
        throw failure;
      }
      await store?.close();
      if (attempt === OPEN_ATTEMPTS) {
        throw failure ?? new StoreError(`store ${root} was replaced ${OPEN_ATTEMPTS} times while it was being opened; try again`, { dir: root });
      }
      // Between the swap's two renames the folder is missing for a moment.
      await sleep(OPEN_RETRY_MS);
    }
  }

  private static async openOnce(root: string): Promise<CollectStore> {
    const manifestPath = join(root, STORE_MANIFEST_FILE);
    let text: string;
    try {
      text = await readFile(manifestPath, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      throw new StoreError(
        code === 'ENOENT'
          ? `${root} is not a collect store: ${STORE_MANIFEST_FILE} is missing (run kollect collect first)`
          : `cannot read ${manifestPath}: ${(error as Error).message}`,
        { dir: root },
        { cause: error },
      );
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (error) {
      throw new StoreError(`${manifestPath} is not valid JSON (truncated?): ${(error as Error).message}`, { dir: root }, { cause: error });
    }
    const format = (raw as { format?: unknown } | null)?.format;
    if (format === STORE_FORMAT_V3) raw = upgradeV3(raw as Record<string, unknown>);
    else if (format === STORE_FORMAT_V4) raw = { ...(raw as Record<string, unknown>), format: STORE_FORMAT };
    else if (format !== STORE_FORMAT) {
      throw new StoreError(`${root} is not a kollect store of format ${STORE_FORMAT} (found ${JSON.stringify(format ?? null)})`, { dir: root, format });
    }
    const parsed = storeManifestSchema.safeParse(raw);
    if (!parsed.success) {
      const first = parsed.error.issues[0];
      throw new StoreError(`${manifestPath} is invalid: ${first ? `${formatIssuePath(first.path)}: ${first.message}` : 'unknown problem'}`, { dir: root });
    }
    const manifest = parsed.data;
    return new CollectStore(root, manifest, await openSpoolFiles(root, manifest), format === STORE_FORMAT);
  }

  /**
   * Closes the spool files; reading a shard afterwards fails. Closing twice closes nothing twice:
   * a descriptor number, once closed, may already belong to another file of this process.
   */
  async close(): Promise<void> {
    const fds = [...this.fds.values()];
    this.fds.clear();
    await Promise.all(fds.map((fd) => closeFile(fd)));
  }

  get cluster(): string {
    return this.manifest.cluster;
  }

  get shards(): readonly ShardEntry[] {
    return this.manifest.shards;
  }

  get resources(): readonly ResourceStatus[] {
    return this.manifest.resources;
  }

  /** Types whose list did not finish (in some namespaces at least): sinks must neither delete nor replace their rows there. */
  incompleteResources(): ResourceStatus[] {
    return this.manifest.resources.filter((r) => !r.complete);
  }

  /** Whether some stored rows must be carried over: a type listed incompletely, or a group whose discovery failed. */
  hasPartialData(): boolean {
    return this.manifest.discoveryFailed.length > 0 || this.manifest.resources.some((r) => !r.complete);
  }

  /**
   * Whether this store is the whole truth about rows of the type (in `namespace`, when given): a
   * stored row it does not hold is gone and may be deleted. True for a type listed completely, for
   * the namespaces a namespace-by-namespace list completed, and for a type the configured scope
   * covers that the store does not hold (not served, left out by exclude); false for a group whose
   * discovery failed and for types outside the configuration.
   */
  isComplete(type: { group?: string; apiGroup?: string; resource: string; namespace?: string }): boolean {
    const group = type.group ?? type.apiGroup ?? '';
    if (this.failedGroups.has(group)) return false;
    const status = this.statusOf.get(`${group}/${type.resource}`);
    if (status === undefined) return coveredBy(this.manifest.scope, group, type.resource);
    if (status.complete) return true;
    return status.incompleteNamespaces !== undefined && type.namespace !== undefined && !status.incompleteNamespaces.includes(type.namespace);
  }

  shard(key: string): ShardEntry | undefined {
    return this.shardsByKey.get(key);
  }

  /**
   * Streams a shard's rows in batches (the rows of one read chunk), one resource type after
   * another, without loading the shard. Hot loops take batches: an await per row costs more
   * than parsing a short row.
   */
  async *readShardBatches(key: string): AsyncGenerator<Row[]> {
    for await (const { type, text } of this.readShardText(key)) {
      const parse = this.lineParser(key, type);
      const rows: Row[] = [];
      let start = 0;
      for (let end = text.indexOf('\n'); end >= 0; start = end + 1, end = text.indexOf('\n', start)) rows.push(parse(text.slice(start, end)));
      yield rows;
    }
  }

  /** Reads spool lines of shard `key` and resource type `type` back as rows; a line that is no such row is damage to the store. */
  lineParser(key: string, type: ResourceStatus): (line: string) => Row {
    const segment: SegmentContext = {
      cluster: this.cluster,
      namespace: namespaceOfShard(key),
      type: { apiGroup: type.group, apiVersion: type.version, kind: type.kind, resource: type.resource },
    };
    return (line) => {
      try {
        return parseSpoolLine(line, segment);
      } catch (error) {
        throw new StoreError(
          `store ${this.dir} is damaged: shard "${key}" holds a line that is not a row of ${type.resource} (${(error as Error).message})`,
          { dir: this.dir, shard: key },
          { cause: error },
        );
      }
    };
  }

  /**
   * A shard's spool lines as text, a read chunk of whole lines (each ending in a newline) at a
   * time, with the resource type they are rows of: for the Postgres sink, which hands them to
   * COPY as they are (src/store/spool-line.ts).
   */
  async *readShardText(key: string): AsyncGenerator<{ type: ResourceStatus; text: string }> {
    // One buffer per shard read, refilled: its text is decoded (copied) before it goes out.
    // Positional reads: sinks may read shards of one file at the same time through its one descriptor.
    const buffer = Buffer.allocUnsafeSlow(READ_CHUNK);
    for (const { file, offset, bytes } of this.segmentsOf(key)) {
      const type = this.typeOfFile.get(file)!;
      const decoder = new StringDecoder('utf8');
      let rest = '';
      for (let done = 0; done < bytes;) {
        const bytesRead = await this.readSpool(key, file, buffer.subarray(0, Math.min(READ_CHUNK, bytes - done)), offset + done);
        done += bytesRead;
        const text = rest + decoder.write(buffer.subarray(0, bytesRead));
        // Whole lines go out; a line cut by the chunk waits for the next read.
        const cut = text.lastIndexOf('\n') + 1;
        rest = text.slice(cut);
        if (cut > 0) yield { type, text: text.slice(0, cut) };
      }
      if (rest + decoder.end() !== '') throw this.cutSegment(key, file);
    }
  }

  /**
   * A shard's spool lines as bytes, one whole segment (rows of one resource type) at a time, each
   * in a buffer of its own: for a shard document, which copies byte ranges of the lines into its
   * own bytes (src/sinks/document/document-render.ts). A segment holds at most a shard's rows of
   * one type, as the document does.
   */
  async *readShardSegments(key: string): AsyncGenerator<{ type: ResourceStatus; bytes: Buffer }> {
    for (const { file, offset, bytes } of this.segmentsOf(key)) {
      const buffer = Buffer.allocUnsafe(bytes);
      for (let done = 0; done < bytes;) done += await this.readSpool(key, file, buffer.subarray(done), offset + done);
      if (bytes > 0 && buffer[bytes - 1] !== NEWLINE) throw this.cutSegment(key, file);
      yield { type: this.typeOfFile.get(file)!, bytes: buffer };
    }
  }

  private cutSegment(key: string, file: string): StoreError {
    return new StoreError(`store ${this.dir} is damaged: a segment of shard "${key}" in ${file} does not end with a whole line`, {
      dir: this.dir,
      shard: key,
      file,
    });
  }

  private segmentsOf(key: string): ShardEntry['segments'] {
    const shard = this.shard(key);
    if (!shard) throw new StoreError(`store ${this.dir} has no shard "${key}"`, { dir: this.dir, shard: key });
    return shard.segments;
  }

  /** Reads bytes of a spool file into `into` at `position`: how many (never 0). */
  private async readSpool(key: string, file: string, into: Buffer, position: number): Promise<number> {
    const fd = this.fds.get(file);
    if (fd === undefined) throw new StoreError(`store ${this.dir} is closed: shard "${key}" cannot be read`, { dir: this.dir, shard: key });
    const { bytesRead } = await readAt(fd, into, 0, into.length, position);
    if (bytesRead === 0)
      throw new StoreError(`store ${this.dir} is damaged: spool file ${file} ends inside shard "${key}"`, { dir: this.dir, shard: key, file });
    return bytesRead;
  }

  /** Streams every row of the store one by one, shard by shard (see readShardBatches). */
  async *rows(): AsyncGenerator<Row> {
    for (const shard of this.manifest.shards) for await (const rows of this.readShardBatches(shard.key)) yield* rows;
  }
}

/** Whether a configured pattern (`*` for any group or resource) covers the type. */
export function coveredBy(scope: readonly TypePattern[], group: string, resource: string): boolean {
  return scope.some((p) => (p.group === '*' || p.group === group) && (p.resource === '*' || p.resource === resource));
}

/** The spool file of each resource type in the manifest. */
function spoolFiles(manifest: StoreManifest): Map<string, ResourceStatus> {
  return new Map(manifest.resources.map((type) => [spoolFileOf(type), type]));
}

/**
 * Opens the spool files that the manifest places rows in, and checks them against it: each
 * segment is in the spool file of a listed type, and each file exists and holds exactly the
 * segments placed in it, none past its end (a truncated or missing file, a manifest of another
 * store). Nothing stays open when a check fails.
 */
async function openSpoolFiles(root: string, manifest: StoreManifest): Promise<Map<string, number>> {
  const types = spoolFiles(manifest);
  const files = new Map<string, { bytes: number; end: number; shard: string }>();
  for (const shard of manifest.shards) {
    for (const segment of shard.segments) {
      if (!types.has(segment.file)) {
        throw new StoreError(`store ${root} is damaged: shard "${shard.key}" has rows in ${segment.file}, which is no listed type's spool file`, {
          dir: root,
          shard: shard.key,
          file: segment.file,
        });
      }
      const file = files.get(segment.file) ?? { bytes: 0, end: 0, shard: shard.key };
      file.bytes += segment.bytes;
      file.end = Math.max(file.end, segment.offset + segment.bytes);
      files.set(segment.file, file);
    }
  }
  const fds = new Map<string, number>();
  const opened = await Promise.allSettled(
    [...files].map(async ([file, expected]) => {
      const fd = await openFile(join(root, file), 'r').catch((error: NodeJS.ErrnoException) => {
        throw new StoreError(`store ${root} is incomplete: spool file ${file} is missing`, { dir: root, shard: expected.shard, file }, { cause: error });
      });
      fds.set(file, fd);
      const { size } = await statFile(fd);
      if (size !== expected.bytes || expected.end > size) {
        throw new StoreError(`store ${root} is damaged: spool file ${file} has ${size} bytes on disk, the manifest places ${expected.bytes} in it`, {
          dir: root,
          file,
        });
      }
    }),
  );
  const failed = opened.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) {
    await Promise.all([...fds.values()].map((fd) => closeFile(fd)));
    throw failed.reason;
  }
  return fds;
}
