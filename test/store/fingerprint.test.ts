import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { FingerprintAccumulator, fingerprintOf } from '../../src/store/fingerprint.js';

const checksum = (i: number): string => createHash('sha256').update(String(i)).digest('hex').slice(0, 32);

describe('shard fingerprints', () => {
  it('GIVEN the same checksums summed in any order and split THEN the same fingerprint, equal to fingerprintOf(count, sum mod 2^128)', () => {
    // All ones wrap around 2^128 at the second row: the sum must be reduced wherever it is read.
    const checksums = ['f'.repeat(32), 'f'.repeat(32), ...Array.from({ length: 1_200 }, (_, i) => checksum(i))];
    const whole = new FingerprintAccumulator();
    for (const c of checksums) whole.add(c);

    const reversed = new FingerprintAccumulator();
    for (const c of [...checksums].reverse()) reversed.add(c);

    // As pages of a list worker arrive: a sum per page, added on the main thread; and merged parts.
    const byPages = new FingerprintAccumulator();
    const merged = new FingerprintAccumulator();
    for (let from = 0; from < checksums.length; from += 500) {
      const page = new FingerprintAccumulator();
      for (const c of checksums.slice(from, from + 500)) page.add(c);
      byPages.addSum(page.rows, page.checksumSum);
      merged.merge(page);
    }

    const sum = checksums.reduce((n, c) => n + BigInt(`0x${c}`), 0n) % (1n << 128n);
    for (const accumulator of [whole, reversed, byPages, merged]) {
      assert.equal(accumulator.rows, checksums.length);
      assert.equal(accumulator.checksumSum, sum);
      assert.equal(accumulator.digest(), fingerprintOf(checksums.length, sum));
    }
  });

  it('GIVEN one changed checksum THEN another fingerprint', () => {
    const a = new FingerprintAccumulator();
    const b = new FingerprintAccumulator();
    for (let i = 0; i < 10; i++) {
      a.add(checksum(i));
      b.add(checksum(i === 7 ? 70 : i));
    }
    assert.notEqual(a.digest(), b.digest());
  });
});
