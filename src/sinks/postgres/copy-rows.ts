import { Readable } from 'node:stream';
import type { Row } from '../../rows/row.js';
import { namespaceOfShard } from '../../rows/row.js';
import { StoreError } from '../../errors.js';
import { printable, quoted } from '../../format.js';
import type { CollectStore } from '../../store/collect-store.js';
import type { ResourceStatus, ShardEntry } from '../../store/store-manifest.js';
import { copyField, copyFieldValue, copyJson, SPOOL_COLUMNS } from '../../store/spool-line.js';
import { REPLACED_VALUES_NAMED, type ReplacedValue, type ReplacedValues } from '../sink.js';

/**
 * A collect store to PostgreSQL `COPY ... FROM STDIN` text format.
 *
 * The store's spool lines already are COPY text (src/store/spool-line.ts): the fields that vary
 * per row, escaped, so that a value can never end a field or a line, nor form the end-of-data
 * marker `\.` on a line of its own (every backslash in a value is doubled). This module only
 * appends to each line what its segment's rows share (namespace and resource type, and the
 * constants of a first export), one native replace per chunk: no row is parsed on the way.
 * Only a chunk that may hold what PostgreSQL's text and jsonb cannot store (NUL, a lone surrogate) has its lines
 * looked at (replaceUnstorable).
 */

/**
 * Staging columns, in COPY order, with their types: the spool line's, then what every row of a
 * segment shares. `cluster` is not staged: it is the store's, given once. JSON and timestamps are
 * typed here, so the server parses them while it receives the COPY, where it costs nothing
 * visible, rather than in the merge's INSERT, where the cast is a step of its own.
 */
export const STAGING_COLUMNS = {
  ...({
    name: 'text',
    uid: 'text',
    labels: 'jsonb',
    attributes: 'jsonb',
    checksum: 'text',
    resource_version: 'text',
    created_at: 'timestamptz',
  } satisfies Record<(typeof SPOOL_COLUMNS)[number], string>),
  namespace: 'text',
  api_group: 'text',
  api_version: 'text',
  kind: 'text',
  resource: 'text',
} as const;

/** The staging column names, comma-separated, in COPY order. */
export const STAGING_COLUMN_LIST = Object.keys(STAGING_COLUMNS).join(', ');

/** Constant fields to append to every line, encoded once. */
export function copyTail(fields: readonly string[]): string {
  return fields.map((field) => `\t${copyField(field)}`).join('');
}

/** The key of a row inside its shard (the namespace is the shard's). */
export function keyInShard(row: Pick<Row, 'name' | 'uid'>): string {
  return `${row.name}\u0000${row.uid}`;
}

/**
 * The shard of each line of one COPY, by line number (from 1, as the server counts lines in an
 * error's context): what names the shard of a line that the server refuses.
 */
export class CopyLines {
  private readonly firstLines: number[] = [];
  private readonly keys: string[] = [];
  /** Lines sent so far. */
  sent = 0;

  /** The lines sent next are the rows of shard `key`. */
  startShard(key: string): void {
    this.firstLines.push(this.sent + 1);
    this.keys.push(key);
  }

  /** The shard that line `line` of the COPY is a row of. */
  shardOf(line: number): string | undefined {
    let found: string | undefined;
    for (let i = 0; i < this.firstLines.length && this.firstLines[i]! <= line; i++) found = this.keys[i];
    return found;
  }
}

export interface CopySourceOptions {
  /** Values appended to every line, after the STAGING_COLUMNS (for columns the rows do not carry). */
  constants?: readonly string[];
  /** The shards to send (default: every shard of the store). */
  shards?: readonly ShardEntry[];
  /** Records which shard each line sent is a row of. */
  lines?: CopyLines;
  /** Counts and names the values sent made storable (they are replaced either way). */
  replaced?: ReplacedValues;
}

/** What PostgreSQL gets for text it cannot hold: U+FFFD, the replacement character. */
export const REPLACEMENT_CHARACTER = '\uFFFD';

/**
 * Whether COPY text may hold what PostgreSQL's text and jsonb cannot store: a NUL, raw, as COPY
 * escapes it (`\000`, `\0`, `\x00`) or as JSON does (`\u0000`, its backslash doubled by COPY);
 * or a lone UTF-16 surrogate, which JSON writes as an escape (`\ud800`) that jsonb refuses. A few
 * native searches of a chunk keep the common case free of per-row work; a false alarm (a
 * backslash before a zero, an escaped surrogate pair) only costs replaceUnstorable's closer look.
 */
export function mayHoldUnstorable(text: string): boolean {
  return text.includes('\\0') || text.includes('\\x0') || text.includes('u0000') || text.includes('\0') || text.includes('\\ud') || text.includes('\\uD');
}

/** A string as PostgreSQL can store it: NUL and lone surrogates each become REPLACEMENT_CHARACTER. */
function storableText(value: string): string {
  return value.replaceAll('\0', REPLACEMENT_CHARACTER).toWellFormed();
}

/** A path into a JSON value, one step on: `.key`, or `["key"]` for a key that is not an identifier. */
function jsonStep(path: string, key: string): string {
  return /^[A-Za-z_]\w*$/.test(key) ? `${path}.${key}` : `${path}[${quoted(key)}]`;
}

/** A parsed JSON value with storableText of every string and key; `paths` gets where one changed. */
function storableJson(value: unknown, path: string, paths: string[]): unknown {
  if (typeof value === 'string') {
    const storable = storableText(value);
    if (storable !== value) paths.push(path);
    return storable;
  }
  if (Array.isArray(value)) return value.map((item, i) => storableJson(item, `${path}[${i}]`, paths));
  if (value === null || typeof value !== 'object') return value;
  return Object.fromEntries(
    Object.entries(value).map(([key, item]) => {
      const at = jsonStep(path, key);
      const storableKey = storableText(key);
      if (storableKey !== key) paths.push(at);
      return [storableKey, storableJson(item, at, paths)];
    }),
  );
}

/**
 * Spool lines (whole lines, each ending with a newline) with every field, text and JSON alike,
 * made storable (storableText), each value changed counted in `replaced`. The checksum stays the
 * store's: it stands for the object as collected, so the next export of an unchanged object finds
 * its stored checksum equal and leaves the row alone, although the stored value differs.
 */
function replaceUnstorable(text: string, where: { shard: ShardEntry; type: ResourceStatus; dir: string }, replaced: ReplacedValues): string {
  const lines = text.split('\n');
  for (const [i, line] of lines.entries()) {
    if (!mayHoldUnstorable(line)) continue;
    const fields = line.split('\t');
    const object: Omit<ReplacedValue, 'field'> = {
      namespace: namespaceOfShard(where.shard.key),
      name: copyFieldValue(fields[0]!) ?? '',
      kind: where.type.kind,
    };
    for (const [c, column] of SPOOL_COLUMNS.entries()) {
      const field = fields[c];
      const value = field === undefined || !mayHoldUnstorable(field) ? null : copyFieldValue(field);
      if (value === null) continue;
      const paths: string[] = [];
      if (STAGING_COLUMNS[column] === 'jsonb') {
        let json: unknown;
        try {
          json = JSON.parse(value);
        } catch {
          throw new StoreError(
            `store ${where.dir} is damaged: shard "${where.shard.key}" holds a row of ${where.type.resource} whose ${column} are not JSON; collect again`,
            {
              dir: where.dir,
              shard: where.shard.key,
            },
          );
        }
        const clean = storableJson(json, column, paths);
        if (paths.length > 0) fields[c] = copyJson(JSON.stringify(clean));
      } else {
        const storable = storableText(value);
        if (storable !== value) {
          paths.push(column);
          fields[c] = copyField(storable);
        }
      }
      for (const path of paths) {
        replaced.count++;
        if (replaced.first.length < REPLACED_VALUES_NAMED) replaced.first.push({ ...object, field: path });
      }
    }
    lines[i] = fields.join('\t');
  }
  return lines.join('\n');
}

/**
 * The store's rows as COPY text in STAGING_COLUMNS order (then `constants`), shard by shard, a
 * read chunk of the store at a time.
 *
 * Each line is only looked at for its key: two rows of one key (cluster, namespace, name, uid)
 * mean a damaged store (a list is one snapshot, and a restarted list's rows are discarded), and
 * fail the export with STORE_INVALID before anything is committed, rather than the table keeping
 * either row or the counts counting both. The key is the line's text up to its second tab: COPY
 * escaping is one to one, so equal text is equal values. Keys are held per shard (its namespace
 * is in the key), so memory is bounded by the largest shard.
 */
export async function* copyChunks(store: Pick<CollectStore, 'dir' | 'shards' | 'readShardText'>, options: CopySourceOptions = {}): AsyncGenerator<string> {
  const constants = copyTail(options.constants ?? []);
  const lines = options.lines ?? new CopyLines();
  const replaced = options.replaced ?? { count: 0, first: [] };
  for (const shard of options.shards ?? store.shards) {
    lines.startShard(shard.key);
    const namespace = `\t${copyField(namespaceOfShard(shard.key))}`;
    const keys = new Set<string>();
    let tail: { type: ResourceStatus; replacement: string } | undefined;
    for await (const { type, text: read } of store.readShardText(shard.key)) {
      const text = mayHoldUnstorable(read) ? replaceUnstorable(read, { shard, type, dir: store.dir }, replaced) : read;
      for (let start = 0, end = text.indexOf('\n'); end >= 0; start = end + 1, end = text.indexOf('\n', start)) {
        const tab = text.indexOf('\t', start);
        // A string of its own (join copies): a slice, or a concatenation of slices, kept in the set
        // would keep the whole chunk's text alive until the shard ends.
        const key = [text.slice(start, tab), text.slice(tab + 1, text.indexOf('\t', tab + 1))].join('\t');
        if (keys.has(key)) {
          const [name, uid] = key.split('\t');
          throw new StoreError(
            `store ${store.dir} is damaged: shard "${shard.key}" holds two rows of ${type.resource} named ${printable(name!)} with uid ${printable(uid!)}; collect again`,
            {
              dir: store.dir,
              shard: shard.key,
            },
          );
        }
        keys.add(key);
        lines.sent++;
      }
      // What this segment's rows share, before each newline; `$` is special in a replacement string, `$$` writes one.
      if (tail?.type !== type)
        tail = { type, replacement: `${namespace}${copyTail([type.group, type.version, type.kind, type.resource])}${constants}\n`.replaceAll('$', '$$$$') };
      yield text.replaceAll('\n', tail.replacement);
    }
  }
}

/** A byte stream of the store's rows in COPY text format, for `pipeline(source, copyFrom(...))`. */
export function copyRowsSource(store: Pick<CollectStore, 'dir' | 'shards' | 'readShardText'>, options: CopySourceOptions = {}): Readable {
  return Readable.from(copyChunks(store, options), { objectMode: false, highWaterMark: 1 << 20 });
}
