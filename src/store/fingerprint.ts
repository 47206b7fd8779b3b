import { digest } from '../rows/checksum.js';

const MOD = 1n << 128n;

/**
 * The fingerprint of `count` rows whose checksums (read as 128-bit numbers) add up to `sum`
 * (modulo 2^128): what FingerprintAccumulator.digest() gives for them, wherever they were summed
 * (the Postgres sink sums the stored rows' checksums in SQL).
 */
export function fingerprintOf(count: number, sum: bigint): string {
  return digest(`${count}:${(((sum % MOD) + MOD) % MOD).toString(16)}`);
}

/**
 * Order-independent digest of a set of row checksums: rows are spooled in list order, relists
 * and parallel types interleave them, and the fingerprint must not care. A sum modulo 2^128
 * (with the count) streams in O(1) memory, unlike hashing a sorted list.
 */
export class FingerprintAccumulator {
  /** The plain sum: reduced modulo 2^128 only when read, as a reduction per row cost more than the addition (it grows by a bit per doubling of rows). */
  private sum = 0n;
  private count = 0;

  add(checksum: string): void {
    this.sum += BigInt(`0x${checksum}`);
    this.count++;
  }

  merge(other: FingerprintAccumulator): void {
    this.addSum(other.count, other.checksumSum);
  }

  /** Adds `count` rows whose checksums sum to `sum` (what `checksumSum` gave for them, maybe on another thread). */
  addSum(count: number, sum: bigint): void {
    this.sum += sum;
    this.count += count;
  }

  /** The checksums' sum so far (modulo 2^128): a bigint, so it crosses threads as it is. */
  get checksumSum(): bigint {
    return this.sum % MOD;
  }

  get rows(): number {
    return this.count;
  }

  digest(): string {
    return fingerprintOf(this.count, this.sum);
  }
}
