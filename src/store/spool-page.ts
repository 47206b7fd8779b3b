/**
 * One page's rows, serialized for the spool: what a list worker hands the main thread. Apart from
 * the store writer so that the list worker's modules leave out the manifest and its schema (zod):
 * a worker starts without building them.
 */
import { FingerprintAccumulator } from './fingerprint.js';

/** Rows of one shard, serialized: what the spool appends to that shard's file. */
export interface ShardLines {
  /** The shard key (`shardKeyOf(namespace)`). */
  shard: string;
  /** One spool line per row (src/store/spool-line.ts), each ending in a newline, in UTF-8. Owns its ArrayBuffer, so it can be transferred. */
  lines: Uint8Array;
  /** How many rows (lines). */
  rows: number;
  /** The rows' checksums summed as the shard's fingerprint sums them (FingerprintAccumulator), so a page hands over one number, not each checksum. */
  checksumSum: bigint;
  /** The rows' size as JSON lines, in UTF-8 bytes: what shard sizes are measured in (jsonLineChars). */
  jsonBytes: number;
}

/**
 * A page of rows, serialized for the spool. A list worker transfers the bytes to the main thread
 * without a copy, and no parsed object crosses threads.
 */
export type SpoolPage = ShardLines[];

/** The ArrayBuffers of a page, to transfer along with it. */
export function spoolPageTransferList(page: SpoolPage): ArrayBuffer[] {
  return page.map((shard) => shard.lines.buffer as ArrayBuffer);
}

const utf8 = new TextEncoder();

/** Builds a SpoolPage row by row, from rows already serialized (by the collect hot path's encoder). */
export class SpoolPageBuilder {
  private readonly shards = new Map<string, { lines: string; fingerprint: FingerprintAccumulator; jsonChars: number }>();

  /** Adds one row: its shard, its spool line (without the newline), its checksum and the length of its JSON line (jsonLineChars). */
  add(shard: string, line: string, checksum: string, jsonChars: number): void {
    const rows = this.shards.get(shard);
    if (rows) {
      rows.lines += `${line}\n`;
      rows.fingerprint.add(checksum);
      rows.jsonChars += jsonChars;
    } else {
      const fingerprint = new FingerprintAccumulator();
      fingerprint.add(checksum);
      this.shards.set(shard, { lines: `${line}\n`, fingerprint, jsonChars });
    }
  }

  build(): SpoolPage {
    return [...this.shards].map(([shard, rows]) => {
      // TextEncoder gives each page its own ArrayBuffer (Buffer.from may hand out a slice of a shared pool).
      const lines = utf8.encode(rows.lines);
      // A spool line and a JSON line hold the same text beyond ASCII (JSON.stringify leaves it as
      // it is, and so does COPY), so the bytes UTF-8 adds to one it adds to the other.
      return {
        shard,
        lines,
        rows: rows.fingerprint.rows,
        checksumSum: rows.fingerprint.checksumSum,
        jsonBytes: rows.jsonChars + lines.byteLength - rows.lines.length,
      };
    });
  }
}
