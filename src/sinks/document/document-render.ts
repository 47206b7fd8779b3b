import { isUtf8 } from 'node:buffer';
import { BACKSLASH, CLOSE_BRACE, NEWLINE, OPEN_BRACE, QUOTE, TAB } from '../../bytes.js';
import { compareStrings } from '../../compare.js';
import { canonicalJson } from '../../rows/checksum.js';
import { namespaceOfShard, type Row } from '../../rows/row.js';
import type { ResourceStatus } from '../../store/store-manifest.js';

/**
 * The bytes of a shard document: deterministic JSON, rows sorted, one row per line (small, stable
 * diffs), without resourceVersion (it changes when nothing we keep does). A row's line is
 * `canonicalJson` of its DocumentRow. Rows come from two places: spool lines of the store, and
 * rows carried over from the document there (parsed). Both are sorted together and written by one
 * renderer, `DocumentRows`.
 *
 * Why spool lines are not parsed: a first export of 100,000 rows spent half its time making a Row
 * of each line and serializing it again, most of it in the garbage collector (docs/benchmarks.md,
 * bench:s3). A spool line of a v5 store already holds the canonical JSON of labels and attributes,
 * and its other fields need no escape in nearly every row; so such a line is copied into the
 * document as byte ranges between the line layout's literal parts (`LineLayout`), and only its
 * sort key is decoded. A line with an escape of either format, a store of an older format (JSON in
 * insertion order) or a segment that is not valid UTF-8 goes the row's way, with the same bytes:
 * test/sinks/document/document-render.test.ts holds the two ways to each other.
 */

/** A row as written into a shard document: the shard's cluster and namespace are in the header. */
export type DocumentRow = Omit<Row, 'cluster' | 'namespace' | 'resourceVersion'>;

/** A row's place in its document: by type, then name and uid. */
export function sortKey(row: DocumentRow): string {
  return sortKeyOf(row.apiGroup, row.resource, row.name, row.uid);
}

const sortKeyOf = (apiGroup: string, resource: string, name: string, uid: string): string => `${apiGroup}\u0000${resource}\u0000${name}\u0000${uid}`;

/** Keys in sorted order: canonicalJson then serializes the row natively (isCanonical). */
export function toDocumentRow(row: Row): DocumentRow {
  return {
    apiGroup: row.apiGroup,
    apiVersion: row.apiVersion,
    attributes: row.attributes,
    checksum: row.checksum,
    createdAt: row.createdAt,
    kind: row.kind,
    labels: row.labels,
    name: row.name,
    resource: row.resource,
    uid: row.uid,
  };
}

/** The spool line's fields a document row holds, by their column in the line (src/store/spool-line.ts). */
const SLOT_COLUMNS = { name: 0, uid: 1, labels: 2, attributes: 3, checksum: 4, createdAt: 6 } as const;
type Slot = keyof typeof SLOT_COLUMNS;
/** Fields written as JSON text; the others are strings, put in quotes. */
const JSON_SLOTS: ReadonlySet<Slot> = new Set(['labels', 'attributes']);
const JSON_COLUMNS = [SLOT_COLUMNS.labels, SLOT_COLUMNS.attributes];
const STRING_COLUMNS = [SLOT_COLUMNS.name, SLOT_COLUMNS.uid, SLOT_COLUMNS.checksum, SLOT_COLUMNS.createdAt];
const SLOT_MARK = /"\\u0000(\w+)\\u0000"/g;

/**
 * A row line of one resource type, as literal bytes around the row's own fields, taken from
 * canonicalJson of a row whose fields are marks: the layout cannot differ from the row path's.
 * Undefined when the type's own strings hold a mark (the row path then serves the type).
 */
interface LineLayout {
  /** One more than `columns`: the bytes before each field, and after the last. */
  literals: Buffer[];
  /** The spool column of each field, in the line's order. */
  columns: number[];
  quoted: boolean[];
}

function lineLayout(type: ResourceStatus): LineLayout | undefined {
  const mark = (slot: Slot): string => `\u0000${slot}\u0000`;
  const template = canonicalJson(
    toDocumentRow({
      cluster: '',
      namespace: '',
      resourceVersion: '',
      apiGroup: type.group,
      apiVersion: type.version,
      kind: type.kind,
      resource: type.resource,
      name: mark('name'),
      uid: mark('uid'),
      labels: mark('labels') as unknown as Row['labels'],
      attributes: mark('attributes') as unknown as Row['attributes'],
      checksum: mark('checksum'),
      createdAt: mark('createdAt'),
    }),
  );
  const parts = template.split(SLOT_MARK);
  const slots = parts.filter((_, index) => index % 2 === 1) as Slot[];
  if (slots.length !== Object.keys(SLOT_COLUMNS).length || new Set(slots).size !== slots.length || !slots.every((slot) => slot in SLOT_COLUMNS)) {
    return undefined;
  }
  return {
    literals: parts.filter((_, index) => index % 2 === 0).map((literal) => Buffer.from(literal)),
    columns: slots.map((slot) => SLOT_COLUMNS[slot]),
    quoted: slots.map((slot) => !JSON_SLOTS.has(slot)),
  };
}

/** `\N`: a null createdAt. */
const NULL_FIELD = Buffer.from('\\N');
const NULL_JSON = Buffer.from('null');
/** Before each row line, and between two. */
const INDENT = Buffer.from('    ');
const SEPARATOR = Buffer.from(',\n');
/** Fields of a spool line. */
const COLUMNS = 7;

/**
 * Copies bytes `start` to `end` of `from` into `to` at `at`: the new `at`. A row's pieces are
 * short, and Buffer#copy's own cost per call outweighed a loop's below some dozens of bytes.
 */
function copyBytes(from: Uint8Array, start: number, end: number, to: Uint8Array, at: number): number {
  if (end - start > SHORT_COPY) return at + (from as Buffer).copy(to, at, start, end);
  for (let index = start; index < end; index++) to[at++] = from[index]!;
  return at;
}
const SHORT_COPY = 64;

/** A string field that JSON would put in quotes as it is: no quote, no backslash, no control character. */
function plainString(bytes: Buffer, start: number, end: number): boolean {
  for (let at = start; at < end; at++) {
    const byte = bytes[at]!;
    if (byte < 0x20 || byte === QUOTE || byte === BACKSLASH) return false;
  }
  return true;
}

/** The rows of one shard document, sorted and written by `render`. */
export class DocumentRows {
  /** Each row's sort key; a spool row's index in `#spans` or its line's index in `#lines`, by `#isSpan`. */
  readonly #keys: string[] = [];
  readonly #refs: number[] = [];
  readonly #isSpan: boolean[] = [];
  /** Rows that took the row path, as their lines. */
  readonly #lines: string[] = [];
  /** Segments of spool lines; per row copied from one: its segment, where each of its fields starts, and its end plus one. */
  readonly #segments: Array<{ bytes: Buffer; layout: LineLayout }> = [];
  readonly #spans: number[] = [];

  get size(): number {
    return this.#keys.length;
  }

  /** The sort keys of the rows added so far. */
  keys(): ReadonlySet<string> {
    return new Set(this.#keys);
  }

  /** A row carried over, or parsed: its line is canonicalJson of it. */
  addRow(row: DocumentRow): void {
    this.#add(sortKey(row), false, this.#lines.push(canonicalJson(row)) - 1);
  }

  /**
   * A segment of spool lines (whole lines of one resource type, src/store/spool-line.ts).
   * `canonical`: its labels and attributes are canonical JSON (kollect.store/v5); `parse` reads a
   * line that cannot be copied as its row.
   */
  addSpool(bytes: Buffer, type: ResourceStatus, canonical: boolean, parse: (line: string) => Row): void {
    const layout = canonical && isUtf8(bytes) ? lineLayout(type) : undefined;
    const at = layout === undefined ? -1 : this.#segments.push({ bytes, layout }) - 1;
    const { group, resource } = type;
    const fields = new Array<number>(COLUMNS + 1);
    // The next backslash, found once for all the lines before it (most segments have none).
    let escape = bytes.indexOf(BACKSLASH);
    for (let start = 0, end = bytes.indexOf(NEWLINE); end >= 0; start = end + 1, end = bytes.indexOf(NEWLINE, start)) {
      if (escape >= 0 && escape < start) escape = bytes.indexOf(BACKSLASH, start);
      if (at >= 0 && this.#spanOf(bytes, start, end, escape, fields)) {
        const ref = this.#spans.length;
        this.#spans.push(at);
        for (const field of fields) this.#spans.push(field);
        this.#add(sortKeyOf(group, resource, bytes.toString('utf8', fields[0], fields[1]! - 1), bytes.toString('utf8', fields[1], fields[2]! - 1)), true, ref);
      } else {
        this.addRow(toDocumentRow(parse(bytes.toString('utf8', start, end))));
      }
    }
  }

  #add(key: string, span: boolean, ref: number): void {
    this.#keys.push(key);
    this.#isSpan.push(span);
    this.#refs.push(ref);
  }

  /**
   * Finds a line's fields (`fields`: where each starts, then the line's end plus one), when the
   * line can be copied: no escape (`escape`: the first backslash at or after the line's start)
   * but a null createdAt, string fields that JSON takes as they are, labels and attributes objects.
   */
  #spanOf(bytes: Buffer, start: number, end: number, escape: number, fields: number[]): boolean {
    fields[0] = start;
    for (let column = 1; column < COLUMNS; column++) {
      const tab = bytes.indexOf(TAB, fields[column - 1]);
      if (tab < 0 || tab >= end) return false;
      fields[column] = tab + 1;
    }
    fields[COLUMNS] = end + 1;
    const created = fields[SLOT_COLUMNS.createdAt]!;
    const extraTab = bytes.indexOf(TAB, created);
    if (extraTab >= 0 && extraTab < end) return false;
    const nullCreated = escape === created && end - created === NULL_FIELD.length && bytes[created + 1] === NULL_FIELD[1];
    if (escape >= 0 && escape < end && !nullCreated) return false;
    for (const column of STRING_COLUMNS) {
      if (!(nullCreated && column === SLOT_COLUMNS.createdAt) && !plainString(bytes, fields[column]!, fields[column + 1]! - 1)) return false;
    }
    for (const column of JSON_COLUMNS) {
      if (bytes[fields[column]!] !== OPEN_BRACE || bytes[fields[column + 1]! - 2] !== CLOSE_BRACE) return false;
    }
    return true;
  }

  /** The document: a header naming the cluster and namespace, then the rows in sort order. */
  render(cluster: string, shardKey: string): Buffer {
    const order = this.#keys.map((_, index) => index).sort((a, b) => compareStrings(this.#keys[a]!, this.#keys[b]!));
    const header = `{\n  "cluster": ${JSON.stringify(cluster)},\n  "namespace": ${JSON.stringify(namespaceOfShard(shardKey))},\n`;
    if (order.length === 0) return Buffer.from(`${header}  "rows": []\n}\n`);
    const opening = `${header}  "rows": [\n`;
    const closing = '\n  ]\n}\n';
    let size = Buffer.byteLength(opening) + closing.length + order.length * INDENT.length + (order.length - 1) * SEPARATOR.length;
    for (const index of order) size += this.#lineBytes(index);
    const out = Buffer.allocUnsafe(size);
    let at = out.write(opening);
    for (let place = 0; place < order.length; place++) {
      if (place > 0) at = copyBytes(SEPARATOR, 0, SEPARATOR.length, out, at);
      at = copyBytes(INDENT, 0, INDENT.length, out, at);
      at = this.#writeLine(order[place]!, out, at);
    }
    at += out.write(closing, at, 'latin1');
    return out;
  }

  #lineBytes(index: number): number {
    const ref = this.#refs[index]!;
    if (!this.#isSpan[index]) return Buffer.byteLength(this.#lines[ref]!);
    const { bytes, layout } = this.#segments[this.#spans[ref]!]!;
    const fields = ref + 1;
    let size = 0;
    for (const literal of layout.literals) size += literal.length;
    for (let slot = 0; slot < layout.columns.length; slot++) {
      const column = layout.columns[slot]!;
      const length = this.#spans[fields + column + 1]! - 1 - this.#spans[fields + column]!;
      size += this.#isNull(bytes, fields, column) ? NULL_JSON.length : length + (layout.quoted[slot] ? 2 : 0);
    }
    return size;
  }

  #writeLine(index: number, out: Buffer, at: number): number {
    const ref = this.#refs[index]!;
    if (!this.#isSpan[index]) return at + out.write(this.#lines[ref]!, at);
    const { bytes, layout } = this.#segments[this.#spans[ref]!]!;
    const fields = ref + 1;
    for (let slot = 0; slot < layout.columns.length; slot++) {
      const column = layout.columns[slot]!;
      const literal = layout.literals[slot]!;
      at = copyBytes(literal, 0, literal.length, out, at);
      if (this.#isNull(bytes, fields, column)) {
        at = copyBytes(NULL_JSON, 0, NULL_JSON.length, out, at);
        continue;
      }
      if (layout.quoted[slot]) out[at++] = QUOTE;
      at = copyBytes(bytes, this.#spans[fields + column]!, this.#spans[fields + column + 1]! - 1, out, at);
      if (layout.quoted[slot]) out[at++] = QUOTE;
    }
    const last = layout.literals[layout.columns.length]!;
    return copyBytes(last, 0, last.length, out, at);
  }

  /** Whether a field is `\N` (only a createdAt may be: anything else took the row path). */
  #isNull(bytes: Buffer, fields: number, column: number): boolean {
    const start = this.#spans[fields + column]!;
    return column === SLOT_COLUMNS.createdAt && bytes[start] === BACKSLASH && this.#spans[fields + column + 1]! - 1 - start === NULL_FIELD.length;
  }
}
