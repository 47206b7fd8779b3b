import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decoderFor, parseInPieces } from '../../../src/kube/page/list-pieces.js';
import { withoutManagedFields } from '../../../src/kube/page/managed-fields.js';
import { FULL_OBJECTS, METADATA_ONLY } from '../../../src/kube/pager.js';
import { metadataListPage, POPULATED_LISTS, startSimClient } from '../../support/sim-pages.js';
import { parseListBody } from '../../support/list-pages.js';

/** A list of `count` items made by `item(i)` (each item's metadata, as JSON text), with a continue token. */
const metadataList = (count: number, item: (i: number) => string, tail?: string): Buffer =>
  metadataListPage(
    Array.from({ length: count }, (_, i) => item(i)),
    '{"resourceVersion":"7","continue":"abc"}',
    tail,
  );

const plain = (i: number): string =>
  `{"name":"pod-${i}","namespace":"ns","uid":"u-${i}","labels":{"app":"a${i % 7}"},"annotations":{"note":"${'x'.repeat(200)}"}}`;

describe('a PartialObjectMetadataList parsed in pieces', () => {
  it('GIVEN a page of every type the local API server has, whole and with managedFields cut THEN metadata-only pages give the value JSON.parse gives, full ones are not split', async () => {
    const { client, close } = await startSimClient({ objects: 6_000, seed: 5 });
    let pieced = 0;
    try {
      for (const { path } of POPULATED_LISTS) {
        for (const accept of [METADATA_ONLY, FULL_OBJECTS]) {
          const response = await client.get(`${path}?limit=500`, { accept });
          for (const body of [response.body, withoutManagedFields(response.body)]) {
            const parsed = parseInPieces(body, decoderFor(body));
            if (accept === FULL_OBJECTS) assert.equal(parsed, undefined, `${path}: a list of full objects is not this layout`);
            if (parsed === undefined) continue;
            assert.deepEqual(parsed, JSON.parse(body.toString('utf8')), path);
            pieced++;
          }
        }
      }
    } finally {
      await close();
    }
    assert.ok(pieced >= 8, `${pieced} pages parsed in pieces`);
  });

  const cases: Array<[string, Buffer, 'pieces' | 'whole']> = [
    ['a large page', metadataList(2_000, plain), 'pieces'],
    ['an empty list', metadataList(0, plain), 'whole'],
    ['a page too small to split', metadataList(3, plain), 'whole'],
    [
      'non-ASCII text (decoded as UTF-8, split between characters)',
      metadataList(1_500, (i) => `{"name":"ünï-${i}","labels":{"é":"ß${i}"},"annotations":{"n":"${'ü'.repeat(150)}"}}`),
      'pieces',
    ],
    [
      'escaped quotes that spell the split mark inside strings',
      metadataList(1_500, (i) => `{"name":"p${i}","annotations":{"a":"${'y'.repeat(100)},{\\"kind\\":\\"PartialObjectMetadata\\",\\"x\\":1}"}}`),
      'pieces',
    ],
    // The split mark where no item starts (a nested object of that kind): a piece that does not parse, so the page is parsed whole.
    [
      'the split mark inside an item',
      metadataList(1_500, (i) => `{"name":"p${i}","x":[1,{"kind":"PartialObjectMetadata","y":${i}}],"pad":"${'z'.repeat(100)}"}`),
      'whole',
    ],
    ['more keys after the items', metadataList(1_500, plain, '],"extra":[1]}'), 'whole'],
    ['whitespace after the list', metadataList(1_500, plain, ']}\n\n  '), 'pieces'],
  ];
  for (const [what, body, how] of cases) {
    it(`GIVEN ${what} THEN ${how === 'pieces' ? 'the value JSON.parse gives' : 'undefined, for a whole parse'}`, () => {
      const parsed = parseInPieces(body, decoderFor(body));
      if (how === 'pieces') assert.deepEqual(parsed, JSON.parse(body.toString('utf8')));
      else assert.equal(parsed, undefined);
      // Either way the pager's parse gives every item, as JSON.parse does.
      assert.deepEqual(parseListBody({ body, continue: 'abc', what }), (JSON.parse(body.toString('utf8')) as { items: unknown[] }).items);
    });
  }

  it('GIVEN a page cut short in its items THEN the parse fails as a whole parse does', () => {
    const body = metadataList(1_500, plain);
    const short = body.subarray(0, body.length - 20_000);
    assert.equal(parseInPieces(short, decoderFor(short)), undefined);
    assert.throws(() => parseListBody({ body: short, continue: 'abc', what: 'list pods (page 2)' }), /not JSON/);
  });
});
