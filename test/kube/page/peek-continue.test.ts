import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { peekContinue } from '../../../src/kube/page/peek-continue.js';
import { parseListBody } from '../../support/list-pages.js';

describe('reading the continue token without parsing the page', () => {
  const token = 'eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MX0';
  const item = '{"metadata":{"name":"a","annotations":{"x":"{\\"metadata\\":{\\"continue\\":\\"no\\"}}"}},"spec":{"s":"}{"}}';
  const cases: Array<[string, string, string | undefined]> = [
    [
      'a built-in list (metadata first)',
      `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"5","continue":"${token}","remainingItemCount":3},"items":[${item}]}`,
      token,
    ],
    ['its last page', `{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"5"},"items":[${item}]}`, ''],
    ['an empty list', '{"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"5"},"items":[]}', ''],
    [
      'a custom resource list (sorted keys, metadata last)',
      `{"apiVersion":"example.com/v1","items":[${item},${item}],"kind":"WidgetList","metadata":{"continue":"${token}","resourceVersion":"5"}}\n`,
      token,
    ],
    ['a custom resource list, last page', `{"apiVersion":"example.com/v1","items":[${item}],"kind":"WidgetList","metadata":{"resourceVersion":"5"}}`, ''],
    ['metadata that is no object', '{"kind":"PodList","metadata":"x","items":[]}', undefined],
    ['metadata that is an array', '{"kind":"PodList","metadata":[{"continue":"x"}],"items":[]}', undefined],
    ['no items key', '{"kind":"Status","metadata":{}}', undefined],
    ['an HTML error page', '<html><body>502 Bad Gateway</body></html>', undefined],
    ['metadata last, then more keys', `{"apiVersion":"v1","items":[],"metadata":{"continue":"${token}"},"zzz":1}`, undefined],
  ];
  for (const [what, body, expected] of cases) {
    it(`GIVEN ${what} THEN ${expected === undefined ? 'it cannot tell' : expected === '' ? 'no token' : 'the token'}`, () => {
      assert.equal(peekContinue(Buffer.from(body)), expected);
      // Where the token can be read, the page parses with it, to every item it holds.
      if (expected !== undefined)
        assert.equal(
          parseListBody({ body: Buffer.from(body), continue: expected, what: 'list' }).length,
          (JSON.parse(body) as { items: unknown[] }).items.length,
        );
    });
  }
});
