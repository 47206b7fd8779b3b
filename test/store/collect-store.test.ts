import assert from 'node:assert/strict';
import { appendFile, mkdir, readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compareStrings } from '../../src/compare.js';
import { StoreError, StoreWriteError } from '../../src/errors.js';
import { CollectStore } from '../../src/store/collect-store.js';
import { StoreWriter } from '../../src/store/store-writer.js';
import { SYNTHETIC_TYPES, buildStore, collectAll, spoolPageOf, storeOf, syntheticRows, tempDir } from '../support/store-fixture.js';

describe('collect store', () => {
  it('GIVEN rows spooled by type THEN shards group them by namespace, with counts, bytes and fingerprints', async () => {
    const dir = join(await tempDir(), 'store');
    const rows = [...syntheticRows({ cluster: 'c1', count: 1000, namespaces: 5 })];
    const store = await buildStore(dir, 'c1', rows);
    assert.equal(store.manifest.totals.rows, 1000);
    assert.deepEqual(
      store.shards.map((s) => s.key),
      ['_cluster', 'ns-000', 'ns-001', 'ns-002', 'ns-003', 'ns-004'],
    );
    const read = await collectAll(store.rows());
    assert.equal(read.length, 1000);
    assert.deepEqual(new Set(read.map((r) => r.uid)), new Set(rows.map((r) => r.uid)));
    for (const shard of store.shards) {
      const inShard = (await collectAll(store.readShardBatches(shard.key))).flat();
      assert.equal(inShard.length, shard.rows);
      assert.ok(inShard.every((r) => (r.namespace || '_cluster') === shard.key));
    }
  });

  it('GIVEN a shard file of several MiB with multi-byte characters everywhere THEN every row reads back exactly', async () => {
    // Rows of odd lengths, so that chunk boundaries fall inside characters of 2, 3 and 4 bytes.
    const rows = [...syntheticRows({ cluster: 'c1', count: 6000, namespaces: 1 })].map((row, i) => ({
      ...row,
      labels: { ...row.labels, city: `zürich-€-𝄞-${'ß'.repeat(i % 97)}` },
      attributes: { ...row.attributes, note: `${'é'.repeat(300 + (i % 13))}\n"quoted"` },
    }));
    const store = await storeOf('c1', rows);
    const shard = store.shard('ns-000')!;
    assert.ok(shard.bytes > 3 * (1 << 20), `the shard must span several read chunks, has ${shard.bytes} bytes`);
    const read = (await collectAll(store.readShardBatches('ns-000'))).flat();
    const byUid = new Map(rows.map((r) => [r.uid, r]));
    assert.equal(read.length, shard.rows);
    for (const row of read) assert.deepEqual(row, byUid.get(row.uid));
  });

  it('GIVEN lists in namespace order spanning many flushes THEN one spool file per type, one or two segments per shard and type, and every shard reads back its own rows in list order', async () => {
    // Two types listed cluster-wide as an API server sends them (namespace, then name), with rows
    // large enough that each type is flushed many times.
    const rows = [...syntheticRows({ cluster: 'c1', count: 48_000, namespaces: 9, attributeBytes: 900 })]
      .filter((r) => r.resource === 'pods' || r.resource === 'configmaps')
      .sort((a, b) =>
        a.resource === b.resource ? compareStrings(`${a.namespace}/${a.name}`, `${b.namespace}/${b.name}`) : compareStrings(a.resource, b.resource),
      );
    const dir = join(await tempDir(), 'store');
    const store = await buildStore(dir, 'c1', rows);
    assert.ok(store.manifest.totals.bytes > 6 * (4 << 20), `must span several 4 MiB flushes per type, has ${store.manifest.totals.bytes} bytes`);
    assert.deepEqual((await readdir(join(dir, 'rows'))).sort(), ['configmaps.tsv', 'pods.tsv']);
    for (const shard of store.shards) {
      for (const file of new Set(shard.segments.map((s) => s.file))) {
        assert.ok(shard.segments.filter((s) => s.file === file).length <= 2, `${shard.key} ${file}: ${JSON.stringify(shard.segments)}`);
      }
      const read = (await collectAll(store.readShardBatches(shard.key))).flat();
      // Type after type, in the order the types were spooled; each type's rows in list order.
      const expected = SYNTHETIC_TYPES.flatMap((type) => rows.filter((r) => r.resource === type.resource && (r.namespace || '_cluster') === shard.key));
      assert.deepEqual(
        read.map((r) => r.uid),
        expected.map((r) => r.uid),
      );
    }
  });

  it('GIVEN the same rows in another order THEN fingerprints are equal; a changed row changes its shard only', async () => {
    const rows = [...syntheticRows({ cluster: 'c1', count: 400, namespaces: 4 })];
    const a = await storeOf('c1', rows);
    const b = await storeOf('c1', [...rows].reverse());
    assert.deepEqual(
      a.shards.map((s) => s.fingerprint),
      b.shards.map((s) => s.fingerprint),
    );
    const changed = [...syntheticRows({ cluster: 'c1', count: 400, namespaces: 4 })];
    changed[1] = { ...changed[1]!, checksum: 'f'.repeat(32) };
    const c = await storeOf('c1', changed);
    const differing = a.shards.filter((s, i) => s.fingerprint !== c.shards[i]?.fingerprint).map((s) => s.key);
    assert.deepEqual(differing, [changed[1].namespace]);
  });

  it('GIVEN a relist (reset) THEN rows of the abandoned attempt are not counted twice', async () => {
    const dir = join(await tempDir(), 'store');
    const writer = await StoreWriter.create(dir, 'c1');
    const spool = writer.spool(SYNTHETIC_TYPES[0]!);
    const rows = [...syntheticRows({ cluster: 'c1', count: 40 })].filter((r) => r.resource === 'pods');
    await spool.addPage(spoolPageOf(rows.slice(0, 5)));
    await spool.complete(); // flushes to disk: the reset must remove what was written
    await spool.reset();
    await spool.addPage(spoolPageOf(rows));
    await spool.complete();
    await writer.finish({ scope: [], notServed: [], discoveryFailed: [] });
    const store = await CollectStore.open(dir);
    assert.equal(store.manifest.totals.rows, rows.length);
    assert.equal((await collectAll(store.rows())).length, rows.length);
  });

  it('GIVEN namespaces listed one after another WHEN the list of the last restarts after its lines reached the disk THEN only its rows go and each namespace reads back once', async () => {
    const dir = join(await tempDir(), 'store');
    const writer = await StoreWriter.create(dir, 'c1');
    const spool = writer.spool(SYNTHETIC_TYPES[0]!);
    // Rows of about 20 KB: a namespace's rows pass the spool's 4 MiB flush on their own.
    const pods = [...syntheticRows({ cluster: 'c1', count: 4_800, namespaces: 3, attributeBytes: 20_000 })].filter((r) => r.resource === 'pods');
    const [first, second] = ['ns-000', 'ns-001'].map((ns) => pods.filter((r) => r.namespace === ns)) as [typeof pods, typeof pods];
    await spool.addPage(spoolPageOf(first));
    await spool.addPage(spoolPageOf(second.slice(0, 250)));
    await spool.resetShard('ns-001');
    await spool.addPage(spoolPageOf(second));
    await spool.complete();
    await writer.finish({ scope: [], notServed: [], discoveryFailed: [] });
    const store = await CollectStore.open(dir);
    for (const [ns, rows] of [
      ['ns-000', first],
      ['ns-001', second],
    ] as const) {
      assert.deepEqual(
        (await collectAll(store.readShardBatches(ns))).flat().map((r) => r.uid),
        rows.map((r) => r.uid),
        ns,
      );
    }
    await store.close();
  });

  it('GIVEN an incomplete type THEN the manifest says why and isComplete is false', async () => {
    const store = await storeOf('c1', syntheticRows({ cluster: 'c1', count: 100 }), { incomplete: { configmaps: 'forbidden' } });
    const cm = store.resources.find((r) => r.resource === 'configmaps');
    assert.equal(cm?.complete, false);
    assert.equal(cm?.reason, 'forbidden');
    assert.equal(store.isComplete({ group: '', resource: 'configmaps' }), false);
    assert.equal(store.isComplete({ group: '', resource: 'pods' }), true);
  });

  it('GIVEN what discovery and namespace-by-namespace lists left THEN isComplete answers per type and namespace', async () => {
    const store = await storeOf('c1', syntheticRows({ cluster: 'c1', count: 100 }), {
      forbiddenNamespaces: { pods: ['ns-001'] },
      unlisted: ['deployments'],
      discovery: {
        scope: [
          { group: '', resource: '*' },
          { group: 'apps', resource: 'deployments' },
          { group: 'example.com', resource: '*' },
        ],
        discoveryFailed: [{ group: 'example.com', version: 'v1', message: '503' }],
      },
    });
    const cases: Array<[string, { group: string; resource: string; namespace?: string }, boolean]> = [
      ['pods in a namespace listed', { group: '', resource: 'pods', namespace: 'ns-000' }, true],
      ['pods in the forbidden namespace', { group: '', resource: 'pods', namespace: 'ns-001' }, false],
      ['pods, no namespace said', { group: '', resource: 'pods' }, false],
      ['a type the store does not list, covered by the configuration', { group: 'apps', resource: 'deployments', namespace: 'ns-000' }, true],
      ['a core type only a wildcard covers', { group: '', resource: 'events', namespace: 'ns-000' }, true],
      ['a type of a group whose discovery failed', { group: 'example.com', resource: 'widgets', namespace: 'ns-000' }, false],
      ['a type outside the configuration', { group: 'batch', resource: 'jobs', namespace: 'ns-000' }, false],
    ];
    for (const [what, type, complete] of cases) assert.equal(store.isComplete(type), complete, what);
    assert.equal(store.hasPartialData(), true);
  });

  it('GIVEN a store of format v3 THEN it opens, its listed types are its scope, and it records no discovery problem', async () => {
    const dir = join(await tempDir(), 'store');
    await buildStore(dir, 'c1', syntheticRows({ cluster: 'c1', count: 100 }), { incomplete: { configmaps: 'forbidden' } });
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    const { scope: _scope, notServed: _notServed, discoveryFailed: _failed, ...v3 } = manifest;
    await writeFile(join(dir, 'manifest.json'), JSON.stringify({ ...v3, format: 'kollect.store/v3' }));
    const store = await CollectStore.open(dir);
    assert.equal(store.manifest.totals.rows, 100);
    assert.deepEqual([store.isComplete({ group: '', resource: 'pods' }), store.isComplete({ group: '', resource: 'configmaps' })], [true, false]);
    assert.equal(store.isComplete({ group: '', resource: 'events' }), false);
    assert.deepEqual([store.manifest.notServed, store.manifest.discoveryFailed], [[], []]);
    await store.close();
  });

  it('GIVEN a store opened by a reader WHEN a collect replaces it THEN the reader still reads exactly the rows of the store it opened', async () => {
    const dir = join(await tempDir(), 'store');
    const opened = [...syntheticRows({ cluster: 'c1', count: 2_000, namespaces: 4 })];
    const reader = await buildStore(dir, 'c1', opened);
    // The next collection: objects gone, changed and new, so every segment of the new spool files moves.
    const replacing = await buildStore(
      dir,
      'c1',
      syntheticRows({ cluster: 'c1', count: 3_000, namespaces: 4, removedFraction: 0.3, changedFraction: 0.5, revision: 2 }),
    );
    await replacing.close();

    const read = await collectAll(reader.rows());
    await reader.close();

    const byUid = (rows: Iterable<{ uid: string }>): Map<string, unknown> => new Map([...rows].map((row) => [row.uid, row]));
    assert.equal(read.length, opened.length);
    assert.deepEqual(byUid(read), byUid(opened));
  });

  it("GIVEN collects replacing a store again and again WHEN readers open it meanwhile THEN each reads exactly one store's rows, never a mix and never an error", async () => {
    // GIVEN two collections of one cluster: objects gone, changed and new between them.
    const dir = join(await tempDir(), 'store');
    const collections = [
      [...syntheticRows({ cluster: 'c1', count: 1_500, namespaces: 3 })],
      [...syntheticRows({ cluster: 'c1', count: 2_000, namespaces: 3, removedFraction: 0.3, changedFraction: 0.5, revision: 2 })],
    ];
    const checksums = (rows: Iterable<{ uid: string; checksum: string }>): string =>
      JSON.stringify([...rows].map((row) => `${row.uid}=${row.checksum}`).sort());
    const expected = new Set(collections.map(checksums));
    await (await buildStore(dir, 'c1', collections[0]!)).close();
    // WHEN one collect after another replaces the store while readers open and read it.
    let replacing = true;
    const writer = (async () => {
      for (let i = 1; i <= 30; i++) await (await buildStore(dir, 'c1', collections[i % 2]!)).close();
      replacing = false;
    })();
    const reader = async (): Promise<number> => {
      let reads = 0;
      while (replacing) {
        const store = await CollectStore.open(dir);
        try {
          // THEN what it reads is one whole collection, the one its manifest counts.
          const rows = await collectAll(store.rows());
          assert.equal(rows.length, store.manifest.totals.rows);
          assert.ok(expected.has(checksums(rows)), `read ${rows.length} rows that are no one collection`);
        } finally {
          await store.close();
        }
        reads++;
      }
      return reads;
    };
    const reads = await Promise.all([reader(), reader(), writer]);
    assert.ok(reads[0]! + reads[1]! > 0);
  });

  it('GIVEN an aborted writer THEN the previous store is untouched', async () => {
    const dir = join(await tempDir(), 'store');
    await buildStore(dir, 'c1', syntheticRows({ cluster: 'c1', count: 50 }));
    const before = await readFile(join(dir, 'manifest.json'), 'utf8');
    const writer = await StoreWriter.create(dir, 'c1');
    await writer.spool(SYNTHETIC_TYPES[0]!).addPage(spoolPageOf(syntheticRows({ cluster: 'c1', count: 4 })));
    await writer.abort();
    assert.equal(await readFile(join(dir, 'manifest.json'), 'utf8'), before);
  });

  it('GIVEN a spool that cannot be written in the middle of a list THEN STORE_UNWRITABLE naming the store, not a raw errno error', async () => {
    const parent = await tempDir();
    const dir = join(parent, 'store');
    const writer = await StoreWriter.create(dir, 'c1');
    const spool = writer.spool(SYNTHETIC_TYPES[0]!);
    await spool.addPage(spoolPageOf(syntheticRows({ cluster: 'c1', count: 4 })));
    // A file where the spool's folder was: ENOTDIR even for root, which file modes do not stop.
    const partial = (await readdir(parent)).find((name) => name.startsWith('store.partial-'))!;
    await rm(join(parent, partial, 'rows'), { recursive: true });
    await writeFile(join(parent, partial, 'rows'), 'not a folder');
    await assert.rejects(spool.complete(), (e: unknown) => e instanceof StoreWriteError && e.data.dir === dir && /ENOTDIR/.test(e.message));
    await writer.abort();
  });

  const broken: Array<[string, (dir: string) => Promise<void>, RegExp]> = [
    ['no manifest', async (dir) => rm(join(dir, 'manifest.json')), /manifest.json is missing/],
    ['a truncated manifest', async (dir) => truncate(join(dir, 'manifest.json'), 40), /not valid JSON/],
    ['a foreign JSON file', async (dir) => writeFile(join(dir, 'manifest.json'), '{"kind":"Something"}'), /not a kollect store/],
    ['a truncated spool file', async (dir) => truncate(join(dir, 'rows', 'pods.tsv'), 10), /spool file rows\/pods.tsv has 10 bytes on disk/],
    ['a missing spool file', async (dir) => rm(join(dir, 'rows', 'pods.tsv')), /spool file rows\/pods.tsv is missing/],
    ['a spool file longer than its segments', async (dir) => appendFile(join(dir, 'rows', 'pods.tsv'), '{}\n'), /damaged/],
    [
      "a segment in a file that is no listed type's",
      async (dir) => {
        const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as { shards: Array<{ segments: Array<{ file: string }> }> };
        manifest.shards[1]!.segments[0]!.file = 'rows/pods.v1';
        await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest));
      },
      /shard "ns-000" has rows in rows\/pods.v1, which is no listed type's spool file/,
    ],
  ];
  for (const [name, breakIt, message] of broken) {
    it(`GIVEN ${name} THEN opening fails with STORE_INVALID`, async () => {
      const dir = join(await tempDir(), 'store');
      await buildStore(dir, 'c1', syntheticRows({ cluster: 'c1', count: 100, namespaces: 2 }));
      await breakIt(dir);
      await assert.rejects(CollectStore.open(dir), (e: unknown) => e instanceof StoreError && e.code === 'STORE_INVALID' && message.test(e.message));
    });
  }

  it('GIVEN a spool line damaged in place (its size unchanged) WHEN its shard is read THEN STORE_INVALID names the shard', async () => {
    const dir = join(await tempDir(), 'store');
    await buildStore(dir, 'c1', syntheticRows({ cluster: 'c1', count: 100, namespaces: 2 }));
    const file = join(dir, 'rows', 'pods.tsv');
    await writeFile(file, (await readFile(file, 'utf8')).replace('\t', ' '));
    const store = await CollectStore.open(dir);
    const shard = store.shards.find((s) => s.segments.some((segment) => segment.file === 'rows/pods.tsv' && segment.offset === 0))!;
    await assert.rejects(
      collectAll(store.readShardBatches(shard.key)),
      (e: unknown) => e instanceof StoreError && e.code === 'STORE_INVALID' && e.message.includes(`shard "${shard.key}"`),
    );
  });

  it('GIVEN a folder that is not a store THEN the error says so', async () => {
    const dir = await tempDir();
    await mkdir(join(dir, 'empty'));
    await assert.rejects(CollectStore.open(join(dir, 'empty')), /not a collect store/);
  });
});
