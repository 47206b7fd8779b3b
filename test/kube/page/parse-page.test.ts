import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { pageWork } from '../../../src/collect/list-rows.js';
import { KubeApiError } from '../../../src/errors.js';
import { decoderFor, parseInPieces } from '../../../src/kube/page/list-pieces.js';
import { withoutManagedFields } from '../../../src/kube/page/managed-fields.js';
import { pageContinue, parsePage } from '../../../src/kube/page/parse-page.js';
import { peekContinue } from '../../../src/kube/page/peek-continue.js';
import type { Profile } from '../../../src/rows/profiles/profile.js';
import { resolveProfile } from '../../../src/rows/profiles/registry.js';
import type { KubeObject, ProjectedType } from '../../../src/rows/project.js';
import { pageText, referencePage } from '../../support/encoded-pages.js';

const FIXTURES = new URL('../../fixtures/kube-apiserver-v1.20.2/', import.meta.url);
const recorded = (name: string): Buffer => readFileSync(new URL(`${name}.json`, FIXTURES));

const PODS: ProjectedType = { group: '', version: 'v1', resource: 'pods', kind: 'Pod' };
const DEPLOYMENTS: ProjectedType = { group: 'apps', version: 'v1', resource: 'deployments', kind: 'Deployment' };
const CONFIGMAPS: ProjectedType = { group: '', version: 'v1', resource: 'configmaps', kind: 'ConfigMap' };
const WIDGETS: ProjectedType = { group: 'example.com', version: 'v1', resource: 'widgets', kind: 'Widget' };

/** Every list page recorded from the real server, with the type it lists. */
const LIST_PAGES: ReadonlyArray<[string, ProjectedType]> = [
  ['pods-full-page1', PODS],
  ['pods-full-page2', PODS],
  ['pods-metadata-page1', PODS],
  ['deployments-full', DEPLOYMENTS],
  ['deployments-metadata', DEPLOYMENTS],
  ['configmaps-hostile-full', CONFIGMAPS],
  ['configmaps-hostile-metadata', CONFIGMAPS],
  ['configmaps-large-full', CONFIGMAPS],
  ['secrets-metadata-page1', { group: '', version: 'v1', resource: 'secrets', kind: 'Secret' }],
  ['namespaces-full', { group: '', version: 'v1', resource: 'namespaces', kind: 'Namespace' }],
  ['nodes-full', { group: '', version: 'v1', resource: 'nodes', kind: 'Node' }],
  ['services-full', { group: '', version: 'v1', resource: 'services', kind: 'Service' }],
  ['widgets-full', WIDGETS],
  ['widgets-metadata', WIDGETS],
];

/**
 * The profiles whose parse differs, for a type: its own (what kollect uses by default), the
 * metadata profile (managedFields cut), one that reads managedFields (not cut), and one of full
 * objects that reads hostile text (annotations, a custom resource's spec).
 */
function profilesFor(type: ProjectedType): Profile[] {
  return [
    resolveProfile(type, {}),
    resolveProfile({ ...type, profile: 'metadata' }, {}),
    { name: 'managers', attributes: { managers: 'metadata.managedFields[*].manager' } },
    {
      name: 'notes',
      attributes: { note: 'metadata.annotations["x/note"]', owner: 'metadata.ownerReferences[0].name', size: 'spec.size', first: 'spec.containers[0]' },
    },
  ];
}

interface ListJson {
  metadata: { continue?: string };
  items: KubeObject[];
}

const plainParse = (body: Buffer): ListJson => JSON.parse(body.toString('utf8')) as ListJson;

describe('a page parsed the fast way gives what JSON.parse gives, on pages recorded from a real kube-apiserver', () => {
  for (const [name, type] of LIST_PAGES) {
    it(`GIVEN ${name} WHEN parsed fast and plainly for every profile THEN the spool lines are those of JSON.parse + projection`, () => {
      const body = recorded(name);
      const page = { body, continue: plainParse(body).metadata.continue ?? '', what: `list ${name}` };
      for (const profile of profilesFor(type)) {
        // JSON.parse of the whole page, then the projection every row is defined by.
        const items = plainParse(body).items;
        const expected = pageText(referencePage('c1', type, profile, items));
        for (const fastParse of [true, false]) {
          const encoded = pageWork('c1', type, profile, fastParse)(page);
          assert.deepEqual(pageText(encoded.page), expected, `${name}, profile ${profile.name}, fastParse ${fastParse}`);
          assert.equal(encoded.rows, items.length);
          assert.deepEqual(encoded.refused, []);
        }
      }
    });
  }

  it('GIVEN every recorded list page THEN the continue token peeked at is the one JSON.parse reads, in both layouts (built-in and custom resource)', () => {
    const tokens = LIST_PAGES.map(([name]) => {
      const body = recorded(name);
      const expected = plainParse(body).metadata.continue ?? '';
      assert.equal(peekContinue(body), expected, name);
      assert.equal(pageContinue(body, name, { fastParse: false }), expected, name);
      return expected;
    });
    assert.ok(tokens.filter((token) => token !== '').length >= 2, 'pages with a continue token were compared');
  });

  it('GIVEN every recorded list page THEN the managedFields cut leaves exactly JSON.parse minus managedFields', () => {
    for (const [name] of LIST_PAGES) {
      const body = recorded(name);
      const cut = withoutManagedFields(body);
      assert.ok(cut.length < body.length, `${name}: the server sent managedFields, so the text must shrink`);
      const expected = plainParse(body);
      for (const item of expected.items) delete (item.metadata as Record<string, unknown>).managedFields;
      assert.deepEqual(plainParse(cut), expected, name);
    }
  });

  it('GIVEN the recorded metadata pages THEN a page parsed in pieces is the value JSON.parse gives, and the large one is parsed so', () => {
    let pieced = 0;
    for (const [name] of LIST_PAGES) {
      for (const text of [recorded(name), withoutManagedFields(recorded(name))]) {
        const parsed = parseInPieces(text, decoderFor(text));
        if (parsed === undefined) continue;
        assert.deepEqual(parsed, plainParse(text), name);
        pieced++;
      }
    }
    assert.ok(pieced >= 1, 'pods-metadata-page1 (134 KB) is parsed in pieces');
  });

  it('GIVEN the hostile ConfigMaps and a plain page THEN plainStrings is false where a string is escaped, true where none is', () => {
    const fast = { fastParse: true, withoutManagedFields: true };
    const hostile = recorded('configmaps-hostile-metadata');
    assert.equal(parsePage({ body: hostile, continue: '', what: 'hostile' }, fast).plainStrings, false);
    const plain = LIST_PAGES.filter(([name]) => name.endsWith('metadata') || name.includes('metadata-page'))
      .map(([name]) => recorded(name))
      .filter((body) => parsePage({ body, continue: plainParse(body).metadata.continue ?? '', what: 'plain' }, fast).plainStrings);
    assert.ok(plain.length >= 1, 'a recorded metadata page of plain strings, where the encoder tests no string');
    // The plain way tells the encoder nothing: it tests every string.
    assert.equal(parsePage({ body: hostile, continue: '', what: 'hostile' }, { fastParse: false }).plainStrings, false);
  });

  // The server's error bodies are not lists: neither way takes one for a page, and none yields a token.
  for (const name of ['expired-continue', 'forbidden-pods', 'unauthorized', 'not-found-resource']) {
    it(`GIVEN the recorded ${name} body THEN both ways refuse it as a page, and no continue token is read from it`, () => {
      const body = recorded(name);
      assert.equal(peekContinue(body), undefined);
      for (const fastParse of [true, false]) {
        assert.throws(
          () => parsePage({ body, continue: '', what: name }, { fastParse }),
          (e: unknown) => e instanceof KubeApiError && e.code === 'KUBE_API_ERROR',
          `fastParse ${fastParse}`,
        );
        assert.throws(
          () => pageContinue(body, name, { fastParse }),
          (e: unknown) => e instanceof KubeApiError,
          `fastParse ${fastParse}`,
        );
      }
    });
  }
});

describe('what parsePage tells the row encoder and checks', () => {
  const token = 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MX0';

  it('GIVEN pages with and without a backslash THEN plainStrings says which, on the text as parsed (managedFields cut)', () => {
    const page = (metadata: string): Buffer =>
      Buffer.from(`{"kind":"PartialObjectMetadataList","metadata":{},"items":[{"kind":"PartialObjectMetadata","metadata":${metadata}}]}`);
    const cases: Array<[string, string, boolean, boolean]> = [
      ['no escape anywhere', '{"name":"a","labels":{"app":"x"}}', true, true],
      ['an escaped quote in an annotation', '{"name":"a","annotations":{"a":"{\\"b\\":1}"}}', false, false],
      ['a backslash only in managedFields', '{"name":"a","managedFields":[{"fieldsV1":{"k:{\\"uid\\":\\"u\\"}":{}}}]}', false, true],
      ['non-ASCII, unescaped', '{"name":"ünï","labels":{"é":"ß"}}', true, true],
    ];
    for (const [what, metadata, whole, cut] of cases) {
      const body = page(metadata);
      assert.equal(parsePage({ body, continue: '', what }, { fastParse: true }).plainStrings, whole, what);
      assert.equal(parsePage({ body, continue: '', what }, { fastParse: true, withoutManagedFields: true }).plainStrings, cut, `${what}, managedFields cut`);
    }
  });

  it('GIVEN a page whose parsed token differs from the one the list went on with THEN KubeApiError', () => {
    const body = Buffer.from(`{"kind":"PodList","metadata":{"continue":"${token}"},"items":[]}`);
    for (const fastParse of [true, false]) {
      assert.throws(
        () => parsePage({ body, continue: 'other', what: 'list pods (page 2)' }, { fastParse }),
        (e: unknown) => e instanceof KubeApiError && /continue token/.test(e.message),
      );
    }
  });
});
