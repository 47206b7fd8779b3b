import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { invalidObject } from '../../src/rows/object-name.js';

describe('names the API server would never serve', () => {
  const cases: Array<[unknown, unknown, boolean]> = [
    ['shop', 'web-1', true],
    ['', 'system:controller:job-controller', true],
    ['shop', 'Widget_1.v2', true],
    ['shop', '..', false],
    ['shop', '.', false],
    ['shop', 'a/b', false],
    ['shop', 'a%2Fb', false],
    ['shop', 'tab\there', false],
    ['shop', 'del\u007f', false],
    ['shop', '', false],
    ['../x', 'web', false],
    ['Shop', 'web', false],
    ['shop_1', 'web', false],
    ['a'.repeat(64), 'web', false],
    [7, 'web', false],
    ['shop', { name: 'x' }, false],
  ];
  for (const [namespace, name, valid] of cases) {
    it(`GIVEN namespace ${JSON.stringify(namespace)} and name ${JSON.stringify(name)} THEN ${valid ? 'accepted' : 'refused'}`, () => {
      assert.equal(invalidObject({ namespace, name }) === undefined, valid);
    });
  }
});

describe('creation times the API server would never serve', () => {
  const cases: Array<[unknown, boolean]> = [
    ['2026-12-07T19:22:15Z', true],
    ['2026-12-07T19:22:15.123456789Z', true],
    ['2026-12-07T19:22:15+05:30', true],
    ['0001-01-01T00:00:00Z', true],
    [undefined, true],
    [null, true],
    ['2026-02-29T00:00:00Z', false],
    ['2024-02-29T00:00:00Z', true],
    ['2026-13-01T00:00:00Z', false],
    ['2026-12-07T24:00:00Z', false],
    ['2026-12-07T19:22:60Z', false],
    ['0000-01-01T00:00:00Z', false],
    ['2026-12-07T19:22:15+16:00', false],
    ['2026-12-07 19:22:15Z', false],
    ['2026-12-07T19:22:15', false],
    ['yesterday', false],
    ['', false],
    [1733599335, false],
  ];
  for (const [creationTimestamp, valid] of cases) {
    it(`GIVEN creationTimestamp ${JSON.stringify(creationTimestamp)} THEN ${valid ? 'accepted' : 'refused'}`, () => {
      assert.equal(invalidObject({ namespace: 'shop', name: 'web', creationTimestamp }) === undefined, valid);
    });
  }
});
