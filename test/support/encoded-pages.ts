import assert from 'node:assert/strict';
import type { Profile } from '../../src/rows/profiles/profile.js';
import { createProjector, type KubeObject, type ProjectedType } from '../../src/rows/project.js';
import { shardKeyOf } from '../../src/rows/row.js';
import type { SpoolPage } from '../../src/store/spool-page.js';
import { spoolPageOf } from './store-fixture.js';

/** createProjector's rows as the store holds them (spoolLineOf), and their JSON lines' bytes, measured: what the collect encoder must write. */
export function referencePage(cluster: string, type: ProjectedType, profile: Profile, objects: KubeObject[]): SpoolPage {
  const rows = objects.map(createProjector(cluster, type, profile));
  const page = spoolPageOf(rows);
  for (const shard of page) {
    const measured = rows.filter((row) => shardKeyOf(row.namespace) === shard.shard).reduce((n, row) => n + Buffer.byteLength(`${JSON.stringify(row)}\n`), 0);
    assert.equal(shard.jsonBytes, measured, `shard ${shard.shard}: the JSON lines' bytes`);
  }
  return page;
}

/** A page as text; each row's checksum is in its line, and the page's sum of them beside. */
export function pageText(page: SpoolPage): Array<{ shard: string; lines: string; rows: number; checksumSum: bigint; jsonBytes: number }> {
  return page.map((s) => ({ shard: s.shard, lines: Buffer.from(s.lines).toString('utf8'), rows: s.rows, checksumSum: s.checksumSum, jsonBytes: s.jsonBytes }));
}
