import { digest } from '../rows/checksum.js';

const MOD = 1n << 128n;

/**
 * Order-independent digest of a set of row checksums: rows are spooled in list order, relists
 * and parallel types interleave them, and the fingerprint must not care. A sum modulo 2^128
 * (with the count) streams in O(1) memory, unlike hashing a sorted list.
 */
export class FingerprintAccumulator {
  private sum = 0n;
  private count = 0;

  add(checksum: string): void {
    this.sum = (this.sum + BigInt(`0x${checksum}`)) % MOD;
    this.count++;
  }

  merge(other: FingerprintAccumulator): void {
    this.sum = (this.sum + other.sum) % MOD;
    this.count += other.count;
  }

  get rows(): number {
    return this.count;
  }

  digest(): string {
    return digest(`${this.count}:${this.sum.toString(16)}`);
  }
}
