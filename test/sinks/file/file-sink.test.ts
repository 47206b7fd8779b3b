import assert from 'node:assert/strict';
import { mkdir, readFile, readdir, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import type { FileSinkConfig } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/log.js';
import { createFileSink } from '../../../src/sinks/file/file-sink.js';
import { parseShardDocument } from '../../../src/sinks/document/shard-document.js';
import type { SinkContext } from '../../../src/sinks/sink.js';
import { storeOf, syntheticRows, tempDir } from '../../support/store-fixture.js';

const ctx: SinkContext = { log: silentLogger, signal: new AbortController().signal, force: false, now: () => new Date() };

function sinkConfig(dir: string): FileSinkConfig {
  const config = validateConfig({ cluster: 'c1', sinks: [{ name: 'files', type: 'file', dir }] });
  return config.sinks[0] as FileSinkConfig;
}

async function listFiles(root: string): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  const walk = async (dir: string): Promise<void> => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else out.set(relative(root, full), (await stat(full)).mtimeMs);
    }
  };
  await walk(root);
  return out;
}

const shardFiles = (files: Map<string, number>): string[] => [...files.keys()].filter((f) => f.startsWith('clusters/')).sort();

describe('file sink', () => {
  it('GIVEN a first export THEN one deterministic file per shard, rows sorted, no resourceVersion', async () => {
    const out = await tempDir();
    const store = await storeOf('c1', syntheticRows({ cluster: 'c1', count: 300, namespaces: 3 }));
    const result = await createFileSink(sinkConfig(out)).apply(store, ctx);
    assert.deepEqual(result.totals, { added: 4, changed: 0, unchanged: 0, removed: 0 });
    assert.deepEqual(shardFiles(await listFiles(out)), [
      'clusters/c1/namespaces/_cluster.json',
      'clusters/c1/namespaces/ns-000.json',
      'clusters/c1/namespaces/ns-001.json',
      'clusters/c1/namespaces/ns-002.json',
    ]);
    const text = await readFile(join(out, 'clusters/c1/namespaces/ns-001.json'), 'utf8');
    const doc = parseShardDocument(text);
    assert.equal(doc?.namespace, 'ns-001');
    assert.equal(doc?.rows.length, store.shard('ns-001')?.rows);
    assert.ok(!text.includes('resourceVersion'));
    const keys = doc!.rows.map((r) => `${r.apiGroup}\u0000${r.resource}\u0000${r.name}\u0000${r.uid}`);
    assert.deepEqual(keys, [...keys].sort());
  });

  it('GIVEN nothing changed THEN no file is rewritten', async () => {
    const out = await tempDir();
    const rows = [...syntheticRows({ cluster: 'c1', count: 300, namespaces: 3 })];
    const sink = createFileSink(sinkConfig(out));
    await sink.apply(await storeOf('c1', rows), ctx);
    const before = await listFiles(out);
    await new Promise((r) => setTimeout(r, 20));
    const again = await sink.apply(await storeOf('c1', [...rows].reverse()), ctx);
    assert.equal(again.skipped?.reason, 'unchanged');
    assert.deepEqual(again.totals, { added: 0, changed: 0, unchanged: 4, removed: 0 });
    const after = await listFiles(out);
    for (const file of shardFiles(before)) assert.equal(after.get(file), before.get(file), `${file} was rewritten`);
  });

  it('GIVEN a vanished namespace THEN its file is removed, other clusters and foreign files stay', async () => {
    const out = await tempDir();
    await mkdir(join(out, 'clusters/c2/namespaces'), { recursive: true });
    await writeFile(join(out, 'clusters/c2/namespaces/ns-000.json'), '{"other":"cluster"}');
    await mkdir(join(out, 'clusters/c1'), { recursive: true });
    await writeFile(join(out, 'clusters/c1/notes.txt'), 'x');
    const sink = createFileSink(sinkConfig(out));
    await sink.apply(await storeOf('c1', syntheticRows({ cluster: 'c1', count: 300, namespaces: 3 })), ctx);
    const fewer = [...syntheticRows({ cluster: 'c1', count: 300, namespaces: 3 })].filter((r) => r.namespace !== 'ns-002');
    const result = await sink.apply(await storeOf('c1', fewer), ctx);
    assert.equal(result.totals.removed, 1);
    const files = await listFiles(out);
    assert.ok(!files.has('clusters/c1/namespaces/ns-002.json'));
    assert.ok(files.has('clusters/c2/namespaces/ns-000.json'));
    assert.ok(files.has('clusters/c1/notes.txt'));
  });

  it('GIVEN a template where one cluster name prefixes another ({cluster}-{namespace}) THEN only files naming this cluster are removed', async () => {
    const out = await tempDir();
    const config = { ...sinkConfig(out), pathTemplate: 'clusters/{cluster}-{namespace}.json' };
    await createFileSink(config).apply(await storeOf('c1-b', syntheticRows({ cluster: 'c1-b', count: 40, namespaces: 2 })), ctx);
    const sink = createFileSink(config);
    await sink.apply(await storeOf('c1', syntheticRows({ cluster: 'c1', count: 300, namespaces: 3 })), ctx);
    const fewer = [...syntheticRows({ cluster: 'c1', count: 300, namespaces: 3 })].filter((r) => r.namespace !== 'ns-002');
    const result = await sink.apply(await storeOf('c1', fewer), ctx);
    assert.equal(result.totals.removed, 1);
    // c1-b's files match c1's pattern (namespace "b-ns-000"), but they name cluster c1-b: they stay.
    assert.deepEqual(shardFiles(await listFiles(out)), [
      'clusters/c1-_cluster.json',
      'clusters/c1-b-_cluster.json',
      'clusters/c1-b-ns-000.json',
      'clusters/c1-b-ns-001.json',
      'clusters/c1-ns-000.json',
      'clusters/c1-ns-001.json',
    ]);
  });

  it('GIVEN a type listed incompletely THEN its rows stay in the files, untouched', async () => {
    const out = await tempDir();
    const sink = createFileSink(sinkConfig(out));
    const rows = [...syntheticRows({ cluster: 'c1', count: 300, namespaces: 3 })];
    await sink.apply(await storeOf('c1', rows), ctx);
    const before = await listFiles(out);
    const withoutConfigMaps = rows.filter((r) => r.resource !== 'configmaps');
    const result = await sink.apply(await storeOf('c1', withoutConfigMaps, { incomplete: { configmaps: 'forbidden' } }), ctx);
    assert.equal(result.totals.changed + result.totals.removed + result.totals.added, 0);
    const after = await listFiles(out);
    for (const file of shardFiles(before)) assert.equal(after.get(file), before.get(file), `${file} was rewritten`);
  });

  it('GIVEN a changed object THEN only its shard file changes, and plan() says so without writing', async () => {
    const out = await tempDir();
    const sink = createFileSink(sinkConfig(out));
    await sink.apply(await storeOf('c1', syntheticRows({ cluster: 'c1', count: 300, namespaces: 3 })), ctx);
    const rows = [...syntheticRows({ cluster: 'c1', count: 300, namespaces: 3 })];
    const target = rows.find((r) => r.namespace === 'ns-001')!;
    target.labels = { ...target.labels, changed: 'yes' };
    target.checksum = 'a'.repeat(32);
    const store = await storeOf('c1', rows);
    const before = await listFiles(out);
    const plan = await sink.plan(store, ctx);
    assert.deepEqual(await listFiles(out), before);
    const result = await sink.apply(store, ctx);
    assert.deepEqual(plan.totals, result.totals);
    assert.deepEqual(
      result.shards.filter((s) => s.counts.changed === 1).map((s) => s.shard),
      ['ns-001'],
    );
  });
});
