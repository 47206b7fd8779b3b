import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson } from '../../src/rows/checksum.js';

describe('canonicalJson', () => {
  const cases: Array<[string, unknown, string]> = [
    ['a scalar', 'a"b', '"a\\"b"'],
    ['undefined', undefined, 'null'],
    ['unsorted keys, nested', { b: 1, a: { d: [2, { f: 1, e: 0 }], c: null } }, '{"a":{"c":null,"d":[2,{"e":0,"f":1}]},"b":1}'],
    ['integer-like keys (which Object.keys puts first)', { b: '1', 10: 'x', 9: 'y', a: '2' }, '{"10":"x","9":"y","a":"2","b":"1"}'],
    ['undefined values: left out of objects, null in arrays', { b: undefined, a: [undefined, 1], c: 'x' }, '{"a":[null,1],"c":"x"}'],
    ['an object whose only value is undefined', { a: undefined }, '{}'],
  ];
  for (const [what, value, expected] of cases) {
    it(`GIVEN ${what} THEN ${expected}`, () => {
      assert.equal(canonicalJson(value), expected);
    });
  }
});
