/**
 * S3 sink benchmark (`npm run bench:s3`): a 100,000-row store of 62 shards exported by the built
 * CLI (`bin/kollect export --from STORE --sink bench`, a process of its own) to the S3 test server
 * (s3rver behind the checking proxy, test/support/s3-server.ts), which runs in a process of its
 * own too, as a remote store would. Baseline: plain PutObject requests of the same documents
 * (rendered beforehand) through a client made alike, as many in flight at once as the sink keeps
 * (PUTS_IN_FLIGHT), in a third process. Each side's time runs from making its client to the last
 * answer: the sink's own `durationMs` (process start-up not counted), and the same span in the
 * baseline. Then an unchanged export (target: no request at all) and one with one namespace
 * changed (target: exactly one shard PUT and the manifest's PUT), counted by the proxy.
 * Rounds pair kollect with the baseline; the ratio is the median of the rounds' ratios.
 * Usage: npm run bench:s3 [-- --json FILE]; BENCH_REPEATS=N sets the rounds (default 3).
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import type { RunResult } from '../src/run.js';
import type * as ShardDocumentModule from '../src/sinks/document/shard-document.js';
import type * as ShardPathModule from '../src/sinks/document/shard-path.js';
import type * as ConfigModule from '../src/sinks/s3/config.js';
import type * as ClientModule from '../src/sinks/s3/s3-client.js';
import type * as SinkModule from '../src/sinks/s3/s3-sink.js';
import type * as StoreModule from '../src/store/collect-store.js';
import { buildStore, syntheticRows, tempDir } from '../test/support/store-fixture.js';
import { rowChecksum } from '../src/rows/project.js';
import type { Row } from '../src/rows/row.js';
import { BenchRecord, jsonResultPath } from './support/bench-result.js';
import { buildKollect, compiled, KOLLECT } from './support/build-kollect.js';
import { measuredChild, scriptChild, writeResult } from './support/measured-child.js';
import { median } from './support/median.js';
import { startS3ServerProcess, type S3RequestSeen } from './support/s3-server-process.js';
import { Verdicts } from './support/verdicts.js';

const CLUSTER = 'bench';
const ROWS = 100_000;
/** 61 namespaces give 62 shards (with `_cluster`), as bench:git. */
const NAMESPACES = 61;
const CHANGED = 'ns-001';
const BUCKET = 'bench';
const SINK = 'bench';
const TEMPLATE = 'clusters/{cluster}/namespaces/{namespace}.json';
const REPEATS = Number(process.env.BENCH_REPEATS ?? 3);
/** Where the sink's settings find the server's key pair. */
const KEY_VARIABLES = { accessKeyId: 'TEST_S3_KEY', secretAccessKey: 'TEST_S3_SECRET' };
const BASELINE_FLAG = '--baseline';

/** The s3 sink's settings, as the config file and the baseline's client take them. */
function sinkSettings(endpoint: string, prefix: string): ConfigModule.S3SinkConfigInput {
  return {
    name: SINK,
    type: 's3',
    bucket: BUCKET,
    prefix,
    pathTemplate: TEMPLATE,
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: { env: KEY_VARIABLES.accessKeyId }, secretAccessKey: { env: KEY_VARIABLES.secretAccessKey } },
  };
}

/** What the baseline process is handed. */
interface BaselineJob {
  endpoint: string;
  prefix: string;
  /** A JSON file of `[path, document]` pairs. */
  documents: string;
}

/**
 * The baseline's side, in a process of its own: reads the documents (not timed), then times
 * making the client and PutObject of every document, PUTS_IN_FLIGHT at a time.
 */
async function baseline(job: BaselineJob): Promise<void> {
  const { s3SinkConfigSchema } = await compiled<typeof ConfigModule>('sinks/s3/config.js');
  const { connectS3 } = await compiled<typeof ClientModule>('sinks/s3/s3-client.js');
  const { PUTS_IN_FLIGHT } = await compiled<typeof SinkModule>('sinks/s3/s3-sink.js');
  const documents = (JSON.parse(await readFile(job.documents, 'utf8')) as Array<[string, string]>).map(([path, text]) => [path, Buffer.from(text)] as const);
  const settings = s3SinkConfigSchema.parse(sinkSettings(job.endpoint, job.prefix));
  const started = performance.now();
  const connection = await connectS3(settings);
  const queue = [...documents];
  const sender = async (): Promise<void> => {
    for (let next = queue.shift(); next; next = queue.shift()) {
      const [path, body] = next;
      await connection.client.send(new PutObjectCommand({ Bucket: BUCKET, Key: `${job.prefix}/${path}`, Body: body, ContentType: 'application/json' }));
    }
  };
  await Promise.all(Array.from({ length: PUTS_IN_FLIGHT }, sender));
  const ms = performance.now() - started;
  connection.close();
  writeResult(ms);
}

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

/** One `kollect export` of the built CLI: the sink's own time, the process's peak RSS. */
interface Export {
  ms: number;
  maxRssKiB: number;
}

async function main(): Promise<void> {
  const json = await jsonResultPath();
  buildKollect();
  const { CollectStore } = await compiled<typeof StoreModule>('store/collect-store.js');
  const { buildShardDocument } = await compiled<typeof ShardDocumentModule>('sinks/document/shard-document.js');
  const { shardPathLayout } = await compiled<typeof ShardPathModule>('sinks/document/shard-path.js');
  const record = new BenchRecord('bench:s3', { rows: ROWS, namespaces: NAMESPACES, rounds: REPEATS });

  const work = await tempDir('kollect-bench-s3-');
  const firstDir = (await buildStore(join(work, 'store-1'), CLUSTER, benchRows())).dir;
  const changedDir = (await buildStore(join(work, 'store-2'), CLUSTER, benchRows(CHANGED))).dir;
  const first = await CollectStore.open(firstDir);
  const layout = shardPathLayout(TEMPLATE, CLUSTER, SINK);
  const documents: Array<[string, string]> = [];
  for (const shard of first.shards)
    documents.push([layout.pathFor(shard.key), (await buildShardDocument(first, shard.key, undefined))?.toString('utf8') ?? '']);
  await first.close();
  const documentsFile = join(work, 'documents.json');
  await writeFile(documentsFile, JSON.stringify(documents));
  const bytes = documents.reduce((sum, [, text]) => sum + Buffer.byteLength(text), 0);
  process.stdout.write(`store: ${documents.length} shards, ${(bytes / 1e6).toFixed(1)} MB of documents; ${REPEATS} rounds\n\n`);

  const server = await startS3ServerProcess([BUCKET]);
  const env = { [KEY_VARIABLES.accessKeyId]: server.credentials.accessKeyId, [KEY_VARIABLES.secretAccessKey]: server.credentials.secretAccessKey };
  const puts = (requests: S3RequestSeen[], match: RegExp): number => requests.filter((r) => r.method === 'PUT' && match.test(r.key ?? '')).length;
  try {
    const kollectRuns: Export[] = [];
    const plainMs: number[] = [];
    const unchangedRequests: number[] = [];
    const changedShardPuts: number[] = [];
    const changedManifestPuts: number[] = [];
    for (let round = 0; round < REPEATS; round++) {
      const config = join(work, `kollect-${round}.json`);
      await writeFile(config, JSON.stringify({ cluster: CLUSTER, sinks: [sinkSettings(server.endpoint, `kollect-${round}`)] }));
      const exportEnv = { ...env, KOLLECT_GIT_MIRROR_DIR: join(work, `state-${round}`) };
      /** `kollect export` of `store`; `--force` past exportMinInterval, as the runs after the first. */
      const kollectExport = async (store: string, force: boolean): Promise<Export> => {
        const args = [KOLLECT, 'export', '--from', store, '--config', config, '--sink', SINK, '--output', 'json', ...(force ? ['--force'] : [])];
        const run = await measuredChild(args, exportEnv);
        const outcome = (JSON.parse(run.stdout) as RunResult).sinks[0];
        if (!outcome?.ok || !('durationMs' in outcome.result)) throw new Error(`kollect export of ${store} gave no sink result: ${run.stdout}`);
        return { ms: outcome.result.durationMs, maxRssKiB: run.maxRssKiB };
      };

      kollectRuns.push(await kollectExport(firstDir, false));
      plainMs.push(
        await scriptChild<number>(
          import.meta.url,
          [BASELINE_FLAG, JSON.stringify({ endpoint: server.endpoint, prefix: `plain-${round}`, documents: documentsFile })],
          env,
        ),
      );

      await server.clearRequests();
      await kollectExport(firstDir, true);
      unchangedRequests.push((await server.requests()).length);

      await server.clearRequests();
      await kollectExport(changedDir, true);
      const requests = await server.requests();
      changedShardPuts.push(puts(requests, /\/namespaces\//));
      changedManifestPuts.push(puts(requests, /manifest\.json$/));
    }
    const kollectMs = kollectRuns.map((run) => run.ms);
    const ratio = median(kollectMs.map((ms, i) => ms / (plainMs[i] ?? Number.NaN)));
    const maxRssKiB = Math.max(...kollectRuns.map((run) => run.maxRssKiB));
    record.add('kollect first export', { ms: median(kollectMs), ratio, maxRssKiB });
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
        `kollect first export   ${(median(kollectMs) / 1000).toFixed(2)} s  (${seconds(kollectMs)}); peak RSS ${(maxRssKiB / 1024).toFixed(0)} MiB`,
        `plain PutObject        ${(median(plainMs) / 1000).toFixed(2)} s  (${seconds(plainMs)})`,
        '',
        verdicts.report(),
        '',
      ].join('\n'),
    );
    if (json) await record.write(json, verdicts);
  } finally {
    await server.close();
    await rm(work, { recursive: true, force: true });
  }
}

const baselineAt = process.argv.indexOf(BASELINE_FLAG);
if (baselineAt >= 0) await baseline(JSON.parse(process.argv[baselineAt + 1] ?? '{}') as BaselineJob);
else await main();
