/**
 * The tail of each item's metadata cut out of a PartialObjectMetadataList page before it is
 * parsed, for lists whose rows read only a row's own fields: name, namespace, uid,
 * resourceVersion, creationTimestamp and labels (profiles without attributes: `metadata`,
 * `secret`).
 *
 * Why: the API server writes ObjectMeta in its fields' order, and what follows labels
 * (annotations, ownerReferences, finalizers, managedFields) such a row never reads. Past
 * managedFields, that is still a third of a metadata page's bytes here (kubectl's
 * last-applied-configuration annotation, full of escapes, and every pod's ownerReferences): text
 * to decode, values to build and strings the row encoder must test for escapes. Over the 187
 * metadata-only pages of 100,000 kube-sim objects, on one thread, a single pass took 467-492 ms
 * against 523-577 with the managedFields cut alone (the cut itself costs what that one did).
 *
 * Each item must read `{"kind":"PartialObjectMetadata",...,"metadata":{...}}`. Its tail starts
 * right after its labels, which must follow its creationTimestamp, or, for an item without
 * labels, right after its creationTimestamp (then deletionTimestamp and
 * deletionGracePeriodSeconds go too); the tail must start with one of those keys, and is cut to
 * the `}}` that closes the metadata and the item.
 *
 * Why the marks are exact in valid JSON: an unescaped quote after `,` or `{` opens a key or an
 * element (inside a string every quote is escaped, and a closing quote is never followed by a
 * letter), so `,{"kind":"PartialObjectMetadata",` starts an element of the items (no array inside
 * an item holds such objects), `,"labels":{` is the metadata's labels (annotations map to
 * strings, the keys inside managedFields carry a prefix), and a tail key right after the labels'
 * first `}` proves that brace outside any string. Should labels hold an object, or a mark fall at
 * another depth, the text left has more `{` than `}` and does not parse. What these checks cannot
 * see, another order of keys, is caught after the parse: `hasRowMetadata` requires each item's
 * name, uid, resourceVersion, creationTimestamp (and namespace), and an item whose labels are not
 * where the server writes them is not cut. Two things are assumed: no key comes twice in an
 * object (Go's encoder writes each field once), and, as with the managedFields cut, what is cut
 * is not itself checked to be valid JSON. When anything does not fit, the caller parses the page
 * with only managedFields cut (managed-fields.ts).
 */
import { bytesOf } from './json-text.js';
import { itemsSpan } from './list-pieces.js';

const ITEM_HEAD = Buffer.from('{"kind":"PartialObjectMetadata",');
/**
 * What an item's start is searched for by. Buffer.indexOf scans for a needle's first byte, and
 * `,` `{` `"` start every few bytes of JSON, while a capital P is rare (as in managed-fields.ts).
 */
const ITEM_NEEDLE = Buffer.from('PartialObjectMetadata",');
/** Where ITEM_NEEDLE lies in `,` + ITEM_HEAD. */
const ITEM_NEEDLE_AT = 1 + ITEM_HEAD.indexOf(ITEM_NEEDLE);
const LABELS = Buffer.from(',"labels":{');
const LABELS_NEEDLE = LABELS.subarray(1);
const CREATED = Buffer.from(',"creationTimestamp":"');
const CREATED_NEEDLE = Buffer.from('Timestamp":"');
const CREATED_NEEDLE_AT = CREATED.length - CREATED_NEEDLE.length;
/** metav1.Time's JSON: RFC 3339 to the second, in UTC (`2024-05-18T10:25:11Z`). */
const TIMESTAMP_LENGTH = 20;
/** The keys a tail may start with, by the letter after `,"` (deletionTimestamp and deletionGracePeriodSeconds share `,"deletion`). */
const TAIL_KEYS = new Map(
  [',"deletion', ',"annotations":{', ',"ownerReferences":[', ',"finalizers":[', ',"managedFields":['].map((key) => [key.charCodeAt(2), Buffer.from(key)] as const),
);
const COMMA = 0x2c;
const QUOTE = 0x22;
const CLOSE_BRACE = 0x7d;

/** True when `bytes` hold the first `length` bytes of `key` at `at` (a byte loop: a native compare per call costs more). */
function startsWith(bytes: Uint8Array, at: number, key: Buffer, length = key.length): boolean {
  for (let i = 0; i < length; i++) if (bytes[at + i] !== key[i]) return false;
  return true;
}

/** The `,` before the item after the one at `start`, or `end` when it is the last. */
function nextItem(body: Buffer, bytes: Uint8Array, start: number, end: number): number {
  for (let at = body.indexOf(ITEM_NEEDLE, start + ITEM_HEAD.length); at >= 0 && at < end; at = body.indexOf(ITEM_NEEDLE, at + 1)) {
    // The needle matched; what is left to compare is what comes before it.
    const comma = at - ITEM_NEEDLE_AT;
    if (bytes[comma] === COMMA && startsWith(bytes, comma + 1, ITEM_HEAD, ITEM_NEEDLE_AT - 1)) return comma;
  }
  return end;
}

/** Where the item's creationTimestamp value ends, searched in `[start, end)`; -1 when it has none laid out as the server writes it. */
function afterCreated(body: Buffer, bytes: Uint8Array, start: number, end: number): number {
  for (let at = body.indexOf(CREATED_NEEDLE, start + CREATED_NEEDLE_AT); at >= 0 && at < end; at = body.indexOf(CREATED_NEEDLE, at + 1)) {
    const key = at - CREATED_NEEDLE_AT;
    if (!startsWith(bytes, key, CREATED, CREATED_NEEDLE_AT)) continue;
    const close = key + CREATED.length + TIMESTAMP_LENGTH;
    return bytes[close] === QUOTE ? close + 1 : -1;
  }
  return -1;
}

/**
 * The page without each item's metadata tail (see above), or undefined when the page or an item
 * is not laid out so. The result still needs `hasRowMetadata` once parsed.
 */
export function withoutMetadataTail(body: Buffer): Buffer | undefined {
  const span = itemsSpan(body);
  if (span === undefined) return undefined;
  const bytes = bytesOf(body);
  const parts: Buffer[] = [];
  let from = 0;
  // Each item after the first was found by its head (nextItem).
  if (span.start < span.end && !startsWith(bytes, span.start, ITEM_HEAD)) return undefined;
  for (let start = span.start; start < span.end; ) {
    const end = nextItem(body, bytes, start, span.end);
    // The item's last two bytes close its metadata and itself.
    const close = end - 2;
    if (bytes[close] !== CLOSE_BRACE || bytes[close + 1] !== CLOSE_BRACE) return undefined;
    let tail = afterCreated(body, bytes, start, end);
    if (tail < 0) return undefined;
    if (startsWith(bytes, tail, LABELS)) {
      tail = body.indexOf(CLOSE_BRACE, tail + LABELS.length) + 1;
    } else if (body.subarray(tail, end).indexOf(LABELS_NEEDLE) >= 0) {
      // Labels, but not where the server writes them: nothing proves them outside the cut.
      return undefined;
    }
    if (tail <= 0 || tail > close) return undefined;
    if (tail < close) {
      const key = TAIL_KEYS.get(bytes[tail + 2]!);
      if (key === undefined || !startsWith(bytes, tail, key)) return undefined;
      parts.push(body.subarray(from, tail));
      from = close;
    }
    start = end + 1;
  }
  if (from === 0) return body;
  parts.push(body.subarray(from));
  return Buffer.concat(parts);
}

interface RowMetadata {
  metadata?: { name?: unknown; namespace?: unknown; uid?: unknown; resourceVersion?: unknown; creationTimestamp?: unknown };
}

/** True when every item kept the metadata a row reads and every object has (its namespace only if `namespaced`). */
export function hasRowMetadata(items: readonly unknown[], namespaced: boolean): boolean {
  for (const item of items) {
    const meta = (item as RowMetadata | null)?.metadata;
    if (
      typeof meta?.name !== 'string' ||
      typeof meta.uid !== 'string' ||
      typeof meta.resourceVersion !== 'string' ||
      typeof meta.creationTimestamp !== 'string' ||
      (namespaced && typeof meta.namespace !== 'string')
    ) {
      return false;
    }
  }
  return true;
}
