import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { hasRowMetadata, withoutMetadataTail } from '../../src/kube/metadata-tail.js';
import { METADATA_ONLY, parsePage } from '../../src/kube/pager.js';
import { metadataListPage, POPULATED_LISTS, startSimClient } from '../support/sim-pages.js';

interface Item {
  metadata?: Record<string, unknown>;
}

/** What a row reads of an item: the fields the cut must keep, exactly. */
function rowFields(items: readonly unknown[]): unknown[] {
  return items.map((item) => {
    const { name, namespace, uid, resourceVersion, creationTimestamp, labels } = (item as Item).metadata ?? {};
    return { name, namespace, uid, resourceVersion, creationTimestamp, labels };
  });
}

const metadataList = (metadata: readonly string[], tail?: string): Buffer => metadataListPage(metadata, undefined, tail);

/** True when the page's tails are cut and what is left parses with every row field (what parsePage then keeps). */
function cutAndProven(page: Buffer): boolean {
  const lean = withoutMetadataTail(page);
  if (lean === undefined) return false;
  try {
    return hasRowMetadata((JSON.parse(lean.toString('utf8')) as { items: unknown[] }).items, true);
  } catch {
    // A cut where the proofs do not hold: the text left does not parse.
    return false;
  }
}

const CREATED = '"creationTimestamp":"2024-05-18T10:25:11Z"';
const MANAGED = '"managedFields":[{"manager":"kubectl","operation":"Update","apiVersion":"v1","time":"2024-05-18T10:25:11Z","fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{".":{},"f:app":{}}}}}]';
const OWNERS = '"ownerReferences":[{"apiVersion":"apps/v1","kind":"ReplicaSet","name":"web-7d4","uid":"rs-1","controller":true,"blockOwnerDeletion":true}]';
const LAST_APPLIED = '"annotations":{"kubectl.kubernetes.io/last-applied-configuration":"{\\"apiVersion\\":\\"v1\\",\\"metadata\\":{\\"labels\\":{\\"app\\":\\"web\\"},\\"name\\":\\"x\\"}}\\n","team":"shop"}';
/** ObjectMeta in its fields' order, as the API server writes it. */
const meta = (i: number, between = `,"labels":{"app":"web","tier":"${i % 3}"}`, after = `,${LAST_APPLIED},${OWNERS},"finalizers":["x/y"],${MANAGED}`): string =>
  `{"name":"web-${i}","generateName":"web-","namespace":"shop","uid":"u-${i}","resourceVersion":"${100 + i}",${CREATED}${between}${after}}`;

describe('the metadata tail cut from a PartialObjectMetadataList', () => {
  it('GIVEN metadata-only pages of every type the local API server has THEN each is cut, and a row reads the same of every item as of the page parsed whole', async () => {
    const { client, close } = await startSimClient({ objects: 6_000, seed: 5 });
    let items = 0;
    try {
      for (const { path, namespaced } of POPULATED_LISTS) {
        const { body } = await client.get(`${path}?limit=500`, { accept: METADATA_ONLY });
        const whole = JSON.parse(body.toString('utf8')) as { items: unknown[]; metadata: { continue?: string } };
        const lean = withoutMetadataTail(body);
        assert.ok(lean !== undefined && lean.length < body.length, `${path}: cut`);
        const parsed = JSON.parse(lean.toString('utf8')) as { items: unknown[] };
        assert.ok(hasRowMetadata(parsed.items, namespaced), path);
        assert.deepEqual(rowFields(parsed.items), rowFields(whole.items), path);
        assert.deepEqual(rowFields(parsePage({ body, continue: whole.metadata.continue ?? '', what: path }, { rowMetadataOnly: { namespaced } }).items), rowFields(whole.items), path);
        items += whole.items.length;
      }
    } finally {
      await close();
    }
    assert.ok(items > 2_000, `${items} items compared`);
  });

  // [case, page, cut (true) or left to the managedFields cut (false)]
  const cases: Array<[string, Buffer, boolean]> = [
    ['items in the fields order, every tail key', metadataList([meta(1), meta(2), meta(3)]), true],
    ['an item with nothing after its labels', metadataList([meta(1, undefined, '')]), true],
    ['an item without labels: cut after creationTimestamp', metadataList([meta(1, '', `,${OWNERS},${MANAGED}`), meta(2)]), true],
    ['an item being deleted, without labels', metadataList([meta(1, ',"deletionTimestamp":"2024-05-19T00:00:00Z","deletionGracePeriodSeconds":30', `,${MANAGED}`)]), true],
    ['labels after deletionTimestamp: not proven outside the cut', metadataList([meta(1, ',"deletionTimestamp":"2024-05-19T00:00:00Z","labels":{"app":"web"}')]), false],
    ['labels with a brace in a value', metadataList([meta(1, ',"labels":{"app":"w}b"}')]), false],
    ['labels holding an object (the cut would not parse)', metadataList([meta(1, ',"labels":{"app":{"x":"y"},"annotations":{"a":"b"}}')]), false],
    [
      'metadata keys sorted (the cut would lose name, uid, resourceVersion)',
      metadataList([`{${LAST_APPLIED},${CREATED},"labels":{"app":"web"},${MANAGED},"name":"web-1","namespace":"shop","resourceVersion":"7","uid":"u-1"}`]),
      false,
    ],
    ['an item without creationTimestamp', metadataList(['{"name":"web-1","namespace":"shop","uid":"u-1","resourceVersion":"7","labels":{"app":"web"}}']), false],
    ['an item of a namespaced type without namespace', metadataList([meta(1).replace('"namespace":"shop",', '')]), false],
    ['an empty list', metadataList([]), true],
    ['more keys after the items', metadataList([meta(1)], '],"extra":[1]}'), false],
  ];

  for (const [name, page, cut] of cases) {
    it(`GIVEN ${name} THEN ${cut ? 'the tail is cut' : 'the page keeps its tails'} and a row reads what the whole parse gives`, () => {
      const whole = JSON.parse(page.toString('utf8')) as { items: unknown[] };
      assert.equal(cutAndProven(page), cut);
      const { items } = parsePage({ body: page, continue: '', what: name }, { rowMetadataOnly: { namespaced: true } });
      assert.deepEqual(rowFields(items), rowFields(whole.items));
      if (cut && whole.items.length > 0) assert.ok(!JSON.stringify(items).includes('managedFields'), 'nothing past labels is left');
    });
  }

  it('GIVEN a cut page THEN what is left of each item is its metadata up to labels', () => {
    const lean = withoutMetadataTail(metadataList([meta(1)]))!;
    assert.equal(lean.toString('utf8'), metadataList([meta(1, undefined, '')]).toString('utf8'));
  });

  it('GIVEN a page cut short THEN the tail is not cut, and parsing fails as it did', () => {
    const page = metadataList([meta(1), meta(2)]);
    const partial = page.subarray(0, page.length - 10);
    assert.equal(withoutMetadataTail(partial), undefined);
    assert.throws(() => parsePage({ body: partial, continue: '', what: 'short' }, { rowMetadataOnly: { namespaced: true } }), { code: 'KUBE_API_ERROR' });
  });
});
