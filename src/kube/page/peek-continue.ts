/**
 * A list's continue token read from its text without parsing its items, so that the pager can
 * ask for the next page while a list worker parses this one.
 */
import { bytesOf, valueEnd } from './json-text.js';

const METADATA_KEY = Buffer.from('"metadata":');
const ITEMS_KEY = Buffer.from('"items":');

function metadataAt(body: Buffer, key: number): { continue?: string } | undefined {
  const start = key + METADATA_KEY.length;
  const end = valueEnd(bytesOf(body), start);
  if (end < 0) return undefined;
  try {
    return JSON.parse(body.toString('utf8', start, end)) as { continue?: string };
  } catch {
    // Not the metadata object it looked like: undefined tells the caller to parse the page whole.
    return undefined;
  }
}

/**
 * The list's continue token ('' for the last page), read without parsing the items, or undefined
 * when the page is not laid out as API servers write lists. Built-in types come as
 * `{"kind","apiVersion","metadata":{...},"items":[...]}` (Go struct order); custom resources,
 * encoded from a map, as `{"apiVersion","items":[...],"kind","metadata":{...}}` (sorted keys).
 */
export function peekContinue(body: Buffer): string | undefined {
  const items = body.indexOf(ITEMS_KEY);
  if (items < 0) return undefined;
  const head = body.subarray(0, items).indexOf(METADATA_KEY);
  let metadata: { continue?: string } | undefined;
  if (head >= 0) {
    metadata = metadataAt(body, head);
  } else {
    // Metadata last: its object is followed only by the list's closing brace.
    const tail = body.lastIndexOf(METADATA_KEY);
    const end = tail > items ? valueEnd(bytesOf(body), tail + METADATA_KEY.length) : -1;
    if (end < 0 || body.toString('utf8', end).trim() !== '}') return undefined;
    metadata = metadataAt(body, tail);
  }
  if (metadata === undefined || typeof metadata !== 'object' || metadata === null || Array.isArray(metadata)) return undefined;
  return typeof metadata.continue === 'string' ? metadata.continue : '';
}
