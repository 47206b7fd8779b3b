import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatCount } from '../src/format.js';

describe('formatCount', () => {
  for (const n of [0, 7, 999, 1000, 25000, 100000, 1234567, 1000000000, -1234]) {
    it(`GIVEN ${n} THEN it prints as toLocaleString('en-US') does`, () => {
      assert.equal(formatCount(n), n.toLocaleString('en-US'));
    });
  }
});
