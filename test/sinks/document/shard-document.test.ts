import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { buildShardDocument, parseShardDocument } from '../../../src/sinks/document/shard-document.js';
import { storeOf, syntheticRows } from '../../support/store-fixture.js';

describe('buildShardDocument', () => {
  it('GIVEN a type listed incompletely WHEN a shard is built over two different existing documents THEN each carries over the rows of its own', async () => {
    const rows = [...syntheticRows({ cluster: 'c1', count: 400, namespaces: 3 })];
    const complete = await storeOf('c1', rows);
    const shard = complete.shards.find((s) => s.key !== '_cluster')!.key;
    const before = (await buildShardDocument(complete, shard, undefined))!.toString('utf8');
    const partial = await storeOf(
      'c1',
      rows.filter((row) => row.resource !== 'configmaps'),
      { incomplete: { configmaps: 'forbidden' } },
    );
    const emptied = `${JSON.stringify({ cluster: 'c1', namespace: parseShardDocument(before)!.namespace, rows: [] })}\n`;

    const [fromFull, fromEmpty] = (await Promise.all([buildShardDocument(partial, shard, before), buildShardDocument(partial, shard, emptied)])).map((bytes) =>
      bytes?.toString('utf8'),
    );

    const configmaps = (text: string | undefined): number => parseShardDocument(text ?? '')?.rows.filter((r) => r.resource === 'configmaps').length ?? 0;
    assert.ok(configmaps(before) > 0);
    assert.equal(configmaps(fromFull), configmaps(before));
    assert.equal(configmaps(fromEmpty), 0);
  });
});
