import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { canonicalJson } from '../../../src/rows/checksum.js';
import { rowChecksum } from '../../../src/rows/project.js';
import { shardKeyOf, type Row } from '../../../src/rows/row.js';
import { buildShardDocument, renderShardDocument } from '../../../src/sinks/document/shard-document.js';
import { CollectStore } from '../../../src/store/collect-store.js';
import type { StoreManifest } from '../../../src/store/store-manifest.js';
import { StoreError } from '../../../src/errors.js';
import { buildStore, collectAll, storeOf, syntheticRows, SYNTHETIC_TYPES, tempDir } from '../../support/store-fixture.js';

/** Strings a spool line or a JSON document could get wrong. */
const AWKWARD = [
  'plain',
  'double"quote',
  'back\\slash',
  '\\N',
  'tab\there',
  'new\nline',
  'carriage\rreturn',
  'nul\0inside',
  'bell\u0007and\u001f',
  'lone \ud800 high',
  'lone \udc00 low',
  'ünïcödé 中文 😀 \u200b \u2028',
  '\u0000name\u0000',
  '../../etc',
  '',
];

/** A small deterministic generator, so that a failure is the same on every run. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state ^ (state >>> 15), 2246822507) + 0x9e3779b9) >>> 0;
    return state / 4294967296;
  };
}

/** Rows over the synthetic types with awkward names, labels and attributes: unsorted and nested keys, integer-like keys, nulls. */
function awkwardRows(count: number, seed: number): Row[] {
  const random = generator(seed);
  const pick = (): string => AWKWARD[Math.floor(random() * AWKWARD.length)]!;
  const rows: Row[] = [];
  for (let i = 0; i < count; i++) {
    const type = SYNTHETIC_TYPES[i % SYNTHETIC_TYPES.length]!;
    // Each field plain or awkward on its own: a row copied from its spool line may still hold an awkward name.
    const plain = (): boolean => random() < 0.7;
    const row: Row = {
      cluster: 'c1',
      namespace: type.namespaced ? `ns-${i % 3}` : '',
      name: plain() ? `name-${i}` : `${pick()}-${i}`,
      uid: plain() ? `uid-${i}` : `${pick()}-${i}`,
      apiGroup: type.group,
      apiVersion: type.version,
      kind: type.kind,
      resource: type.resource,
      labels: plain() ? { tier: 'b', app: 'a' } : { zeta: pick(), '10': pick(), alpha: pick(), '2': pick(), [pick()]: pick() },
      attributes: plain()
        ? { phase: 'Running', nested: { b: 1, a: [2, { d: null, c: true }] } }
        : { value: pick(), nested: { z: [pick(), 1.5, null, true, { b: 1, a: 2 }], a: pick(), '7': 0 }, empty: {}, list: [] },
      createdAt: random() < 0.3 ? null : plain() ? '2026-01-01T00:00:00Z' : pick(),
      resourceVersion: String(i),
      checksum: '',
    };
    if (random() < 0.1) row.labels = {};
    if (random() < 0.1) row.attributes = {};
    row.checksum = rowChecksum(row);
    rows.push(row);
  }
  return rows;
}

/** Every shard's document as the store renders it. */
async function documentsOf(store: CollectStore): Promise<Map<string, string | undefined>> {
  const documents = new Map<string, string | undefined>();
  for (const shard of store.shards) documents.set(shard.key, (await buildShardDocument(store, shard.key, undefined))?.toString('utf8'));
  return documents;
}

/** The same store as kollect.store/v4 wrote it: labels and attributes in the spool are not known to be canonical. */
async function asV4(store: CollectStore): Promise<CollectStore> {
  return edited(store, (manifest) => ({ ...manifest, format: 'kollect.store/v4' }));
}

/** The store reopened with its manifest edited. */
async function edited(store: CollectStore, edit: (manifest: StoreManifest) => unknown): Promise<CollectStore> {
  const path = join(store.dir, 'manifest.json');
  await writeFile(path, JSON.stringify(edit(JSON.parse(await readFile(path, 'utf8')) as StoreManifest)));
  return CollectStore.open(store.dir);
}

/** Each shard's document of the store's rows as read back, given as rows (the row way). */
async function documentsOfRows(store: CollectStore): Promise<Map<string, string>> {
  const documents = new Map<string, string>();
  for (const shard of store.shards) {
    const rows = (await collectAll(store.readShardBatches(shard.key))).flat();
    const documentRows = rows.map(({ cluster: _c, namespace: _n, resourceVersion: _v, ...row }) => row);
    documents.set(shard.key, renderShardDocument(store.cluster, shard.key, documentRows).toString('utf8'));
  }
  return documents;
}

describe('shard documents rendered from spool lines', () => {
  for (const seed of [1, 2, 3]) {
    it(`GIVEN awkward rows (seed ${seed}) in a store WHEN each shard's document is built THEN it is byte for byte the document of the rows read back, and of the same store as v4`, async () => {
      const store = await storeOf('c1', awkwardRows(400, seed));
      assert.equal(store.canonicalSpoolJson, true);

      const documents = await documentsOf(store);

      assert.deepEqual(documents, await documentsOfRows(store));
      const v4 = await asV4(store);
      assert.equal(v4.canonicalSpoolJson, false);
      assert.deepEqual(await documentsOf(v4), documents);
    });
  }

  it("GIVEN a resource type whose kind is the text of a field's mark WHEN its documents are built THEN they are still the row way's", async () => {
    const store = await storeOf('c1', awkwardRows(400, 4));
    const marked = await edited(store, (manifest) => ({
      ...manifest,
      resources: manifest.resources.map((type) => (type.resource === 'pods' ? { ...type, kind: '\u0000name\u0000' } : type)),
    }));

    const documents = await documentsOf(marked);

    assert.ok([...documents.values()].some((text) => text?.includes('"kind":"\\u0000name\\u0000"')));
    assert.deepEqual(documents, await documentsOfRows(marked));
  });

  it('GIVEN awkward rows WHEN their documents are parsed THEN each holds its rows sorted by type, name and uid, with canonical JSON, and nothing else', async () => {
    const rows = awkwardRows(300, 7);
    const store = await storeOf('c1', rows);

    for (const [shard, text] of await documentsOf(store)) {
      const document = JSON.parse(text!) as { cluster: string; namespace: string; rows: Array<Record<string, unknown>> };
      const expected = rows
        .filter((row) => shardKeyOf(row.namespace) === shard)
        .map(({ apiGroup, apiVersion, attributes, checksum, createdAt, kind, labels, name, resource, uid }) => ({
          apiGroup,
          apiVersion,
          attributes,
          checksum,
          createdAt: createdAt?.toWellFormed() ?? null,
          kind,
          labels,
          // A lone surrogate is not UTF-8: the spool, and so the document, holds U+FFFD for it (JSON text escapes it).
          name: name.toWellFormed(),
          resource,
          uid: uid.toWellFormed(),
        }))
        .sort((a, b) => (`${a.apiGroup}\0${a.resource}\0${a.name}\0${a.uid}` < `${b.apiGroup}\0${b.resource}\0${b.name}\0${b.uid}` ? -1 : 1));
      assert.equal(document.cluster, 'c1');
      assert.deepEqual(document.rows, expected);
      // One row per line, each its canonical JSON (parsing puts integer-like keys first, so compare with the text).
      const lines = text!.split('\n').filter((line) => line.startsWith('    {'));
      assert.deepEqual(
        lines.map((line) => line.trim().replace(/,$/, '')),
        document.rows.map((row) => canonicalJson(row)),
      );
    }
  });

  const damages: Array<[string, (spool: string) => string]> = [
    ['a tab of a line turned into a space', (spool) => spool.replace('\t', ' ')],
    ['a JSON object cut open', (spool) => spool.replace('"}\t', '" \t')],
    ["the segment's last newline overwritten", (spool) => `${spool.slice(0, -1)}x`],
  ];
  for (const [damage, apply] of damages) {
    it(`GIVEN a spool file with ${damage} (its size unchanged) WHEN the shard's document is built THEN STORE_INVALID names the shard`, async () => {
      const dir = join(await tempDir(), 'store');
      await buildStore(dir, 'c1', syntheticRows({ cluster: 'c1', count: 100, namespaces: 1 }));
      const file = join(dir, 'rows', 'pods.tsv');
      await writeFile(file, apply(await readFile(file, 'utf8')));
      const store = await CollectStore.open(dir);
      const shard = store.shards.find((s) => s.segments.some((segment) => segment.file === 'rows/pods.tsv'))!;

      await assert.rejects(
        buildShardDocument(store, shard.key, undefined),
        (e: unknown) => e instanceof StoreError && e.code === 'STORE_INVALID' && e.message.includes(`shard "${shard.key}"`),
      );
    });
  }
});
