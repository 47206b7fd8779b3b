import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildShardFile, parseShardDocument, shareShardRenderings } from '../../src/sinks/shard-document.js';
import type { CollectStore } from '../../src/store/collect-store.js';
import { storeOf, syntheticRows } from '../support/store-fixture.js';

/** The store, and how many times each shard was read from disk through it. */
function countingReads(store: CollectStore): { store: CollectStore; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const counted = new Proxy(store, {
    get(target, property, receiver) {
      if (property !== 'readShardBatches') return Reflect.get(target, property, receiver) as unknown;
      return (key: string) => {
        reads.set(key, (reads.get(key) ?? 0) + 1);
        return target.readShardBatches(key);
      };
    },
  });
  return { store: counted, reads };
}

describe('buildShardFile', () => {
  it('GIVEN a complete store shared by two rendering sinks WHEN they render the same shards side by side THEN each shard is read once and both get the same document', async () => {
    const { store, reads } = countingReads(await storeOf('c1', syntheticRows({ cluster: 'c1', count: 600, namespaces: 3 })));
    shareShardRenderings(store, 2);
    for (const shard of store.shards) {
      const [fileSink, gitSink] = await Promise.all([buildShardFile(store, shard.key, undefined), buildShardFile(store, shard.key, undefined)]);
      assert.ok(fileSink);
      assert.equal(gitSink, fileSink);
      assert.equal(parseShardDocument(fileSink)?.rows.length, shard.rows);
    }
    assert.deepEqual(
      [...reads.values()],
      store.shards.map(() => 1),
    );
  });

  it('GIVEN one rendering sink (nothing shared) WHEN a shard is rendered twice THEN it is read twice: nothing is kept for a sink that will not come', async () => {
    const { store, reads } = countingReads(await storeOf('c1', syntheticRows({ cluster: 'c1', count: 200, namespaces: 1 })));
    shareShardRenderings(store, 1);
    const shard = store.shards[0]!.key;
    assert.equal(await buildShardFile(store, shard, undefined), await buildShardFile(store, shard, undefined));
    assert.equal(reads.get(shard), 2);
  });

  it('GIVEN three rendering sinks WHEN each renders a shard in turn THEN it is read once, and a fourth request reads it again (the document went with the last sink)', async () => {
    const { store, reads } = countingReads(await storeOf('c1', syntheticRows({ cluster: 'c1', count: 200, namespaces: 1 })));
    shareShardRenderings(store, 3);
    const shard = store.shards[0]!.key;
    const first = await buildShardFile(store, shard, undefined);
    assert.equal(await buildShardFile(store, shard, undefined), first);
    assert.equal(await buildShardFile(store, shard, undefined), first);
    assert.equal(reads.get(shard), 1);
    assert.equal(await buildShardFile(store, shard, undefined), first);
    assert.equal(reads.get(shard), 2);
  });

  it('GIVEN a type listed incompletely WHEN two sinks render a shard with different existing files THEN each carries over the rows of its own file', async () => {
    const rows = [...syntheticRows({ cluster: 'c1', count: 400, namespaces: 3 })];
    const complete = await storeOf('c1', rows);
    const shard = complete.shards.find((s) => s.key !== '_cluster')!.key;
    const before = (await buildShardFile(complete, shard, undefined))!;
    const partial = await storeOf(
      'c1',
      rows.filter((row) => row.resource !== 'configmaps'),
      { incomplete: { configmaps: 'forbidden' } },
    );
    shareShardRenderings(partial, 2);
    const emptied = `${JSON.stringify({ cluster: 'c1', namespace: parseShardDocument(before)!.namespace, rows: [] })}\n`;

    const [fromFull, fromEmpty] = await Promise.all([buildShardFile(partial, shard, before), buildShardFile(partial, shard, emptied)]);

    const configmaps = (text: string | undefined): number => parseShardDocument(text ?? '')?.rows.filter((r) => r.resource === 'configmaps').length ?? 0;
    assert.ok(configmaps(before) > 0);
    assert.equal(configmaps(fromFull), configmaps(before));
    assert.equal(configmaps(fromEmpty), 0);
  });
});
