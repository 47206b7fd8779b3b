import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { validateConfig } from '../../../src/config/load.js';
import type { FileSinkConfig } from '../../../src/config/schema.js';
import { silentLogger } from '../../../src/log.js';
import type { Row } from '../../../src/rows/row.js';
import { createFileSink } from '../../../src/sinks/file/file-sink.js';
import { parseShardDocument } from '../../../src/sinks/document/shard-document.js';
import type { SinkContext } from '../../../src/sinks/sink.js';
import { storeOf, syntheticRows, tempDir } from '../../support/store-fixture.js';

/** The file sink (and so the shard documents every document sink writes) under per-namespace completeness and discovery problems. */

const ctx: SinkContext = { log: silentLogger, signal: new AbortController().signal, force: false, now: () => new Date() };
const BASE = { cluster: 'c1', count: 600, namespaces: 3 };

function fileSink(dir: string) {
  return createFileSink(validateConfig({ cluster: 'c1', sinks: [{ name: 'files', type: 'file', dir }] }).sinks[0] as FileSinkConfig);
}

/** The rows a shard's file holds, as `resource/name`. */
async function fileRows(out: string, namespace: string): Promise<string[]> {
  const doc = parseShardDocument(await readFile(join(out, `clusters/c1/namespaces/${namespace}.json`), 'utf8'));
  return (doc?.rows ?? []).map((row) => `${row.resource}/${row.name}`).sort();
}

const names = (rows: Row[], namespace: string): string[] =>
  rows
    .filter((row) => row.namespace === namespace)
    .map((row) => `${row.resource}/${row.name}`)
    .sort();

describe('file sink: what stays when a store is the truth about some namespaces only', () => {
  it('GIVEN pods forbidden in ns-001 only WHEN exported THEN ns-001 keeps its pods and ns-000 loses the pods that are gone', async () => {
    const out = await tempDir();
    const first = [...syntheticRows(BASE)];
    await fileSink(out).apply(await storeOf('c1', first), ctx);
    const next = [...syntheticRows({ ...BASE, removedFraction: 0.1 })].filter((row) => !(row.resource === 'pods' && row.namespace === 'ns-001'));

    await fileSink(out).apply(await storeOf('c1', next, { forbiddenNamespaces: { pods: ['ns-001'] } }), ctx);

    const ns001 = [...next.filter((row) => row.namespace === 'ns-001'), ...first.filter((row) => row.resource === 'pods' && row.namespace === 'ns-001')];
    assert.deepEqual(await fileRows(out, 'ns-001'), names(ns001, 'ns-001'));
    assert.deepEqual(await fileRows(out, 'ns-000'), names(next, 'ns-000'));
  });

  it('GIVEN rows carried over while a group was unreachable WHEN the next store lacks them with nothing unreachable THEN they leave the files', async () => {
    const out = await tempDir();
    const rows = [...syntheticRows(BASE)];
    await fileSink(out).apply(await storeOf('c1', rows), ctx);
    const withoutApps = rows.filter((row) => row.apiGroup !== 'apps');
    const unreachable = { unlisted: ['deployments'], discovery: { discoveryFailed: [{ group: 'apps', version: 'v1', message: '503' }] } };
    await fileSink(out).apply(await storeOf('c1', withoutApps, unreachable), ctx);
    assert.deepEqual(await fileRows(out, 'ns-000'), names(rows, 'ns-000'), 'a 503 group deletes nothing');

    // The same store rows, the group now gone (its CRD deleted): the shards' fingerprints are those of the run before.
    await fileSink(out).apply(await storeOf('c1', withoutApps, { unlisted: ['deployments'] }), ctx);

    assert.deepEqual(await fileRows(out, 'ns-000'), names(withoutApps, 'ns-000'));
  });
});
