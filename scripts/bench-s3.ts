/**
 * S3 sink benchmark (`npm run bench:s3`): a 100,000-row store of 62 shards exported by the s3
 * sink to the S3 test server (s3rver behind the checking proxy, test/support/s3-server.ts),
 * against plain PutObject requests of the same documents through the same client, as many in
 * flight at once as the sink keeps (PUTS_IN_FLIGHT). Then an unchanged export (target: no request at all) and one
 * with one namespace changed (target: exactly one shard PUT and the manifest's PUT).
 * Runs the modules as tsc emits them (dist/, built first), in this process, in rounds; medians kept.
 * Usage: npm run bench:s3 [-- --json FILE]; BENCH_REPEATS=N sets the rounds (default 3).
 */
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type * as LogModule from '../src/log.js';
import type * as ShardDocumentModule from '../src/sinks/document/shard-document.js';
import type * as ShardPathModule from '../src/sinks/document/shard-path.js';
import type * as ConfigModule from '../src/sinks/s3/config.js';
import type * as ClientModule from '../src/sinks/s3/s3-client.js';
import type * as SinkModule from '../src/sinks/s3/s3-sink.js';
import type { SinkContext } from '../src/sinks/sink.js';
import type * as StoreModule from '../src/store/collect-store.js';
import { startS3Server } from '../test/support/s3-server.js';
import { buildStore, syntheticRows, tempDir } from '../test/support/store-fixture.js';
import { rowChecksum } from '../src/rows/project.js';
import type { Row } from '../src/rows/row.js';
import { BenchRecord, jsonResultPath } from './support/bench-result.js';
import { buildKollect, compiled } from './support/build-kollect.js';
import { median } from './support/median.js';
import { Verdicts } from './support/verdicts.js';

const CLUSTER = 'bench';
const ROWS = 100_000;
/** 61 namespaces give 62 shards (with `_cluster`), as bench:git. */
const NAMESPACES = 61;
const CHANGED = 'ns-001';
const BUCKET = 'bench';
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);

function benchRows(changed?: string): Row[] {
  const rows: Row[] = [];
  for (const row of syntheticRows({ cluster: CLUSTER, count: ROWS, namespaces: NAMESPACES, attributeBytes: 40 })) {
    if (row.namespace === changed) {
      row.labels = { ...row.labels, rev: '2' };
      row.checksum = rowChecksum(row);
    }
    rows.push(row);
  }
  return rows;
}

async function main(): Promise<void> {
  buildKollect();
  const { CollectStore } = await compiled<typeof StoreModule>('store/collect-store.js');
  const { silentLogger } = await compiled<typeof LogModule>('log.js');
  const { createS3Sink, PUTS_IN_FLIGHT } = await compiled<typeof SinkModule>('sinks/s3/s3-sink.js');
  const { s3SinkConfigSchema } = await compiled<typeof ConfigModule>('sinks/s3/config.js');
  const { connectS3 } = await compiled<typeof ClientModule>('sinks/s3/s3-client.js');
  const { buildShardDocument } = await compiled<typeof ShardDocumentModule>('sinks/document/shard-document.js');
  const { shardPathLayout } = await compiled<typeof ShardPathModule>('sinks/document/shard-path.js');
  const json = await jsonResultPath();
  const record = new BenchRecord('bench:s3', { rows: ROWS, namespaces: NAMESPACES, rounds: REPEATS });

  const work = await tempDir('kollect-bench-s3-');
  const first = await CollectStore.open((await buildStore(join(work, 'store-1'), CLUSTER, benchRows())).dir);
  const changed = await CollectStore.open((await buildStore(join(work, 'store-2'), CLUSTER, benchRows(CHANGED))).dir);
  const layout = shardPathLayout('clusters/{cluster}/namespaces/{namespace}.json', CLUSTER, 'bench');
  const documents: Array<[string, string]> = [];
  for (const shard of first.shards) documents.push([layout.pathFor(shard.key), (await buildShardDocument(first, shard.key, undefined)) ?? '']);
  const bytes = documents.reduce((sum, [, text]) => sum + Buffer.byteLength(text), 0);
  process.stdout.write(`store: ${first.shards.length} shards, ${(bytes / 1e6).toFixed(1)} MB of documents; ${REPEATS} rounds\n\n`);

  const server = await startS3Server();
  const env = { TEST_S3_KEY: server.credentials.accessKeyId, TEST_S3_SECRET: server.credentials.secretAccessKey };
  const settings = (prefix: string) =>
    s3SinkConfigSchema.parse({
      name: 'bench',
      type: 's3',
      bucket: BUCKET,
      prefix,
      endpoint: server.endpoint,
      forcePathStyle: true,
      credentials: { accessKeyId: { env: 'TEST_S3_KEY' }, secretAccessKey: { env: 'TEST_S3_SECRET' } },
    });
  const ctx = (force: boolean): SinkContext => ({ log: silentLogger, signal: new AbortController().signal, force, now: () => new Date() });
  const puts = (match: RegExp): number => server.requests.filter((r) => r.method === 'PUT' && match.test(r.key ?? '')).length;
  try {
    await server.createBucket(BUCKET);
    const kollectMs: number[] = [];
    const plainMs: number[] = [];
    const unchangedRequests: number[] = [];
    const changedShardPuts: number[] = [];
    const changedManifestPuts: number[] = [];
    for (let round = 0; round < REPEATS; round++) {
      const sink = createS3Sink(settings(`kollect-${round}`), { env: { ...env, KOLLECT_GIT_MIRROR_DIR: join(work, `state-${round}`) } });
      let started = performance.now();
      await sink.apply(first, ctx(false));
      kollectMs.push(performance.now() - started);

      // The floor: the same documents, PutObject through a client made alike, as many in flight as the sink keeps.
      const connection = await connectS3(settings(`plain-${round}`), { env });
      started = performance.now();
      const queue = [...documents];
      const sender = async (): Promise<void> => {
        for (let next = queue.shift(); next; next = queue.shift()) {
          const [path, text] = next;
          await connection.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `plain-${round}/${path}`, Body: text, ContentType: 'application/json' }));
        }
      };
      await Promise.all(Array.from({ length: PUTS_IN_FLIGHT }, sender));
      plainMs.push(performance.now() - started);
      connection.close();

      server.clearRequests();
      await sink.apply(first, ctx(true));
      unchangedRequests.push(server.count());

      server.clearRequests();
      await sink.apply(changed, ctx(true));
      changedShardPuts.push(puts(/\/namespaces\//));
      changedManifestPuts.push(puts(/manifest\.json$/));
      await sink.close();
    }
    const ratio = median(kollectMs.map((ms, i) => ms / (plainMs[i] ?? Number.NaN)));
    record.add('kollect first export', { ms: median(kollectMs), ratio });
    record.add('plain PutObject', { ms: median(plainMs) });
    record.add('kollect unchanged export', { requests: Math.max(...unchangedRequests) });
    record.add('kollect one namespace changed', { shardPuts: Math.max(...changedShardPuts), manifestPuts: Math.max(...changedManifestPuts) });
    const verdicts = new Verdicts();
    verdicts.check(
      { name: 'first export ratio', value: ratio, operator: '<=', target: 1.3, unit: 'x' },
      `first export    kollect/PutObject = ${ratio.toFixed(2)}x (median of the rounds' ratios)`,
    );
    verdicts.check(
      { name: 'unchanged requests', value: Math.max(...unchangedRequests), operator: '==', target: 0, unit: 'requests' },
      `unchanged export: ${Math.max(...unchangedRequests)} requests`,
    );
    verdicts.check(
      { name: 'changed shard PUTs', value: Math.max(...changedShardPuts), operator: '==', target: 1, unit: 'requests' },
      `one namespace changed: ${Math.max(...changedShardPuts)} shard PUT`,
    );
    verdicts.check(
      { name: 'changed manifest PUTs', value: Math.max(...changedManifestPuts), operator: '==', target: 1, unit: 'requests' },
      `one namespace changed: ${Math.max(...changedManifestPuts)} manifest PUT`,
    );
    const seconds = (values: number[]): string => values.map((ms) => (ms / 1000).toFixed(2)).join(', ');
    process.stdout.write(
      [
        `kollect first export   ${(median(kollectMs) / 1000).toFixed(2)} s  (${seconds(kollectMs)})`,
        `plain PutObject        ${(median(plainMs) / 1000).toFixed(2)} s  (${seconds(plainMs)})`,
        '',
        verdicts.report(),
        '',
      ].join('\n'),
    );
    if (json) await record.write(json, verdicts);
  } finally {
    await server.close();
  }
}

await main();
