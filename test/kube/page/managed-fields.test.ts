import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { KubeClient } from '../../../src/kube/client.js';
import { withoutManagedFields } from '../../../src/kube/page/managed-fields.js';
import { FULL_OBJECTS, METADATA_ONLY } from '../../../src/kube/pager.js';
import { POPULATED_LISTS, startSimClient, type SimClient } from '../../support/sim-pages.js';
import { parseListBody } from '../../support/list-pages.js';

/** The value JSON.parse gives, with every item's metadata.managedFields deleted. */
function parsedWithoutManagedFields(text: string): unknown {
  const list = JSON.parse(text) as { items: Array<{ metadata?: Record<string, unknown> }> };
  for (const item of list.items) delete item.metadata?.managedFields;
  return list;
}

/** A one-item list whose metadata is `metadata` (JSON text). */
const listOf = (metadata: string): string =>
  `{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{},"items":[{"metadata":${metadata}}]}`;

describe('managedFields left out of a list before parsing', () => {
  let sim: SimClient;
  let client: KubeClient;
  before(async () => {
    sim = await startSimClient({ objects: 3_000, seed: 11 });
    client = sim.client;
  });
  after(() => sim.close());

  it('GIVEN metadata-only and full pages of every kind the server has THEN the parse equals the full parse minus managedFields', async () => {
    let stripped = 0;
    for (const { path } of POPULATED_LISTS) {
      for (const accept of [METADATA_ONLY, FULL_OBJECTS]) {
        const response = await client.get(`${path}?limit=200`, { accept });
        assert.equal(response.status, 200, path);
        const text = response.body.toString('utf8');
        const lean = withoutManagedFields(response.body).toString('utf8');
        assert.deepEqual(JSON.parse(lean), parsedWithoutManagedFields(text), `${path} (${accept})`);
        assert.ok(lean.length < text.length, `${path}: the server sends managedFields, so the text must shrink`);
        stripped++;
      }
    }
    assert.equal(stripped, 16);
  });

  it('GIVEN keys, strings and escapes that look like managedFields THEN only metadata.managedFields goes', () => {
    const cases = [
      // Escaped quotes and brackets inside managedFields keys (k:{"name":"x"}) and values.
      '{"name":"a","managedFields":[{"manager":"m]}[{","fieldsV1":{"k:{\\"name\\":\\"x]\\"}":{".":{}}}}],"uid":"1"}',
      // managedFields last, then first, then the only key; an empty array.
      '{"name":"a","managedFields":[{"manager":"m"}]}',
      '{"managedFields":[{"manager":"m"}],"name":"a"}',
      '{"managedFields":[]}',
      // An annotation whose value spells the key: escaped inside a string, it stays.
      '{"name":"a","annotations":{"note":"\\"managedFields\\":[1,2]","x":"\\\\"},"managedFields":[{"manager":"\\\\\\"]"}]}',
      // A label named like the key maps to a string, not an array: it stays.
      '{"name":"a","labels":{"managedFields":"[x]"}}',
      // Non-ASCII text before and inside.
      '{"name":"zürich-ß","managedFields":[{"manager":"héllo \\u2028 ✓"}],"uid":"2"}',
      // Laid out with spaces: left whole, still parses to the same value with the key kept.
      '{"name":"a", "managedFields": [{"manager":"m"}]}',
    ];
    for (const metadata of cases) {
      const text = listOf(metadata);
      const expected = metadata.includes('"managedFields": [') ? JSON.parse(text) : parsedWithoutManagedFields(text);
      assert.deepEqual(JSON.parse(withoutManagedFields(Buffer.from(text)).toString('utf8')), expected, metadata);
    }
  });

  it('GIVEN PartialObjectMetadata items THEN each ends where its array does, whether the next item proves it or not', () => {
    const item = (metadata: string): string => `{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":${metadata}}`;
    const cases = [
      // managedFields last, as the server writes ObjectMeta: the next item's start proves the end.
      '{"name":"a","managedFields":[{"manager":"m","fieldsV1":{"f:metadata":{"k:{\\"uid\\":\\"1\\"}":{}}}}]}',
      // Brackets inside strings of the array: no proof, the array is scanned.
      '{"name":"b","managedFields":[{"manager":"m]}},{\\"kind\\":\\"PartialObjectMetadata\\","}]}',
      '{"name":"c","managedFields":[{"manager":"[x"}]}',
      // Not last: an array after it (its brackets deny the proof), a string after it.
      '{"name":"d","managedFields":[{"manager":"m"}],"finalizers":["f"]}',
      '{"name":"e","managedFields":[{"manager":"m"}],"uid":"5"}',
    ];
    // Each case followed by a plain item, so that every one of them has a next item.
    const text = `{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{},"items":[${[...cases, cases[0]!].map(item).join(',')}]}`;
    const lean = withoutManagedFields(Buffer.from(text)).toString('utf8');
    assert.deepEqual(JSON.parse(lean), parsedWithoutManagedFields(text));
    assert.ok(!lean.includes('managedFields'));
  });

  it('GIVEN a page cut off inside managedFields THEN it still fails to parse, as the whole text would', () => {
    const text = listOf('{"name":"a","managedFields":[{"manager":"m"}],"uid":"1"}');
    for (const cut of [text.indexOf('[{"manager"') + 3, text.indexOf('"uid"'), text.length - 2]) {
      const partial = text.slice(0, cut);
      assert.throws(() => JSON.parse(partial));
      assert.throws(() => JSON.parse(withoutManagedFields(Buffer.from(partial)).toString('utf8')), `cut at ${cut}`);
    }
  });

  it('GIVEN a metadata-only page parsed for rows THEN items carry metadata without managedFields; a full parse keeps them', async () => {
    const response = await client.get('/api/v1/pods?limit=50', { accept: METADATA_ONLY });
    const page = {
      body: response.body,
      continue: (JSON.parse(response.body.toString('utf8')) as { metadata: { continue?: string } }).metadata.continue ?? '',
      what: 'list pods',
    };
    const lean = parseListBody(page, { fastParse: true, withoutManagedFields: true });
    const whole = parseListBody(page);
    assert.equal(lean.length, 50);
    assert.ok(lean.every((item) => item.metadata?.uid && !('managedFields' in item.metadata)));
    assert.ok(whole.every((item) => Array.isArray((item.metadata as Record<string, unknown> | undefined)?.managedFields)));
  });
});
