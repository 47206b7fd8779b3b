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
    ['sorted keys around unsorted objects', { a: 1, b: { d: 1, c: 2 }, e: [{ g: 1, f: 2 }] }, '{"a":1,"b":{"c":2,"d":1},"e":[{"f":2,"g":1}]}'],
    ['sorted keys throughout, undefined values', { a: [undefined, { b: 1 }], c: undefined, d: 'x' }, '{"a":[null,{"b":1}],"d":"x"}'],
    ['integer-like keys in sorted order', { 1: 'a', 2: 'b', a: 'c' }, '{"1":"a","2":"b","a":"c"}'],
  ];
  for (const [what, value, expected] of cases) {
    it(`GIVEN ${what} THEN ${expected}`, () => {
      assert.equal(canonicalJson(value), expected);
    });
  }
});
