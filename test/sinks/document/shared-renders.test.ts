import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { validateConfig } from '../../../src/config/load.js';
import type { FileSinkConfig } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/log.js';
import { KollectMetrics } from '../../../src/metrics/metrics.js';
import { SharedRenders, type DocumentClaim } from '../../../src/sinks/document/shared-renders.js';
import { buildShardDocument } from '../../../src/sinks/document/shard-document.js';
import { createFileSink } from '../../../src/sinks/file/file-sink.js';
import { runSinks } from '../../../src/sinks/run-sinks.js';
import type { CollectStore } from '../../../src/store/collect-store.js';
import { storeOf, syntheticRows, tempDir } from '../../support/store-fixture.js';

/** The store, and how many times each shard was read from disk through it. */
function countingReads(store: CollectStore): { store: CollectStore; reads: Map<string, number> } {
  const reads = new Map<string, number>();
  const counted = new Proxy(store, {
    get(target, property, receiver) {
      if (property !== 'readShardSegments') return Reflect.get(target, property, receiver) as unknown;
      return (key: string) => {
        reads.set(key, (reads.get(key) ?? 0) + 1);
        return target.readShardSegments(key);
      };
    },
  });
  return { store: counted, reads };
}

/** Takes every shard in order, giving way to the event loop `pause` times before each. */
async function takeAll(store: CollectStore, claim: DocumentClaim, pause = 0): Promise<Array<Buffer | undefined>> {
  const documents: Array<Buffer | undefined> = [];
  for (const shard of store.shards) {
    for (let turn = 0; turn < pause; turn++) await nextTurn();
    documents.push(await claim.take(shard.key));
  }
  claim.release();
  return documents;
}

const readOnce = (store: CollectStore, reads: Map<string, number>): void =>
  assert.deepEqual(
    store.shards.map((shard) => reads.get(shard.key)),
    store.shards.map(() => 1),
  );

describe('shared renders', () => {
  it('GIVEN a fast and a slow claim and room for one document WHEN both take every shard THEN each shard is read once, both get the same documents', async () => {
    const { store, reads } = countingReads(await storeOf('c1', syntheticRows({ cluster: 'c1', count: 600, namespaces: 8 })));
    const renders = new SharedRenders(store, 1);
    const [fast, slow] = [renders.claim(), renders.claim()];

    const [fastDocuments, slowDocuments] = await Promise.all([takeAll(store, fast), takeAll(store, slow, 20)]);

    readOnce(store, reads);
    assert.deepEqual(slowDocuments, fastDocuments);
    for (const [index, shard] of store.shards.entries()) assert.deepEqual(fastDocuments[index], await buildShardDocument(store, shard.key, undefined));
  });

  it('GIVEN a claim waiting for a slower one WHEN the slower is released mid-way (its sink failed) THEN the first goes on to the end', async () => {
    const { store, reads } = countingReads(await storeOf('c1', syntheticRows({ cluster: 'c1', count: 600, namespaces: 8 })));
    const renders = new SharedRenders(store, 1);
    const [ahead, failing] = [renders.claim(), renders.claim()];

    const done = takeAll(store, ahead);
    await failing.take(store.shards[0]!.key);
    failing.release();
    const documents = await done;

    assert.equal(documents.length, store.shards.length);
    assert.ok(documents.every((document) => document !== undefined));
    readOnce(store, reads);
  });

  it('GIVEN a claim that skips shards (unchanged ones) WHEN it asks only for the last THEN the other is not held up and nothing is read twice', async () => {
    const { store, reads } = countingReads(await storeOf('c1', syntheticRows({ cluster: 'c1', count: 600, namespaces: 8 })));
    const renders = new SharedRenders(store, 1);
    const [every, last] = [renders.claim(), renders.claim()];

    const done = takeAll(store, every);
    const lastDocument = await last.take(store.shards.at(-1)!.key);
    last.release();
    const documents = await done;

    assert.deepEqual(lastDocument, documents.at(-1));
    readOnce(store, reads);
  });

  it('GIVEN a claim that goes round again (a push retried) WHEN it asks for a shard it passed THEN that shard is rendered anew for it', async () => {
    const { store, reads } = countingReads(await storeOf('c1', syntheticRows({ cluster: 'c1', count: 200, namespaces: 1 })));
    const claim = new SharedRenders(store, 1 << 20).claim();
    const shard = store.shards[0]!.key;
    const first = await claim.take(shard);
    assert.deepEqual(await claim.take(shard), first);
    assert.equal(reads.get(shard), 2);
  });

  it('GIVEN two file sinks in one run WHEN it exports THEN each shard is read from the store once and both folders hold the same files', async () => {
    const { store, reads } = countingReads(await storeOf('c1', syntheticRows({ cluster: 'c1', count: 900, namespaces: 6 })));
    const dirs = [await tempDir(), await tempDir()];
    const config = validateConfig({ cluster: 'c1', sinks: dirs.map((dir, index) => ({ name: `files-${index}`, type: 'file', dir })) });
    const sinks = config.sinks.map((sink) => createFileSink(sink as FileSinkConfig));
    const ctx = { log: silentLogger, signal: new AbortController().signal, force: false, now: () => new Date(), dryRun: false, metrics: new KollectMetrics() };

    const outcomes = await runSinks(store, sinks, ctx);

    assert.deepEqual(
      outcomes.map((outcome) => outcome.ok),
      [true, true],
    );
    readOnce(store, reads);
    const path = 'clusters/c1/namespaces/ns-003.json';
    assert.equal(await readFile(join(dirs[1]!, path), 'utf8'), await readFile(join(dirs[0]!, path), 'utf8'));
  });
});
