import { resolve } from 'node:path';
import { InterruptedError, KollectError, SinkError } from '../../errors.js';
import { quoted } from '../../format.js';
import { resourceTypeKey } from '../../rows/row.js';
import type { CollectStore } from '../../store/collect-store.js';
import { compareDocuments, type DocumentChange, type DocumentComparison } from '../document/compare-documents.js';
import { documentSha256, parseShardDocument } from '../document/shard-document.js';
import { shardPathLayout } from '../document/shard-path.js';
import { payloadFingerprint, skippedPlan, skipReason } from '../document/skip-decision.js';
import { withDuration, type Sink, type SinkContext, type SinkPlan } from '../sink.js';
import type { S3SinkConfig } from './config.js';
import { createObjectStore, type ObjectStore } from './object-store.js';
import { connectS3, type S3Connection } from './s3-client.js';
import { S3_NOT_IMPLEMENTED, S3_PRECONDITION_FAILED } from './s3-errors.js';
import { loadS3State, MANIFEST_VERSION, manifestKey, manifestMemos, parseManifest, s3StateDir, saveS3State, type S3Manifest } from './s3-manifest.js';

/**
 * The s3 sink: one object per shard (the file sink's document, its SHA-256 in the object's
 * metadata) and a per-cluster manifest.json written last, as the commit point, conditionally
 * (If-Match the ETag last seen, If-None-Match the first time), so that of two racing runs one
 * wins and the other re-reads, re-plans and retries. Objects of vanished shards are deleted only
 * after the manifest commits. An unchanged export (by the local state) makes no request.
 */

export interface S3SinkDeps {
  /** Where secrets referenced as `{env}` and `KOLLECT_GIT_MIRROR_DIR` are looked up. */
  env?: NodeJS.ProcessEnv;
}

/** Shard PUTs in flight at once: the next shard renders while they travel. */
export const PUTS_IN_FLIGHT = 4;

/**
 * The shard PUTs of one export, PUTS_IN_FLIGHT at a time. The first failure is kept and thrown
 * by the next start() or by done(): the manifest is never written after a failed PUT.
 */
class Uploads {
  readonly #running = new Set<Promise<void>>();
  #failure: { error: unknown } | undefined;

  async start(upload: () => Promise<void>): Promise<void> {
    while (this.#running.size >= PUTS_IN_FLIGHT) await Promise.race(this.#running);
    this.#throwFailure();
    const running: Promise<void> = upload().then(
      () => void this.#running.delete(running),
      (error: unknown) => {
        this.#failure ??= { error };
        this.#running.delete(running);
      },
    );
    this.#running.add(running);
  }

  /** Waits for every PUT started, whatever became of the export (none is left running). */
  async settled(): Promise<void> {
    await Promise.all(this.#running);
  }

  /** Waits for every PUT, and throws the first failure. */
  async done(): Promise<void> {
    await this.settled();
    this.#throwFailure();
  }

  #throwFailure(): void {
    if (this.#failure) throw this.#failure.error;
  }
}

/** Manifest writes lost to another run before the export gives up. */
const MANIFEST_ATTEMPTS = 5;

/** The manifest as read: undefined when there is none (or none of kollect's); its ETag when there is an object. */
interface ManifestFound {
  manifest: S3Manifest | undefined;
  etag: string | undefined;
}

export function createS3Sink(config: S3SinkConfig, deps: S3SinkDeps = {}): Sink {
  const env = deps.env ?? process.env;
  const stateDir = resolve(s3StateDir(config.name, env));
  const prefix = config.prefix.replace(/\/+$/, '');
  const target = `s3://${config.bucket}/${prefix}`;
  const keyOf = (path: string): string => (prefix ? `${prefix}/${path}` : path);
  let connection: S3Connection | undefined;
  const objectStore = async (): Promise<ObjectStore> => createObjectStore((connection ??= await connectS3(config, { env })));

  const checkAbort = (ctx: SinkContext): void => {
    if (ctx.signal.aborted) throw new InterruptedError(`sink "${config.name}": s3 export interrupted; the manifest was not written`, { sink: config.name });
  };
  const fingerprintOf = (store: CollectStore): string => payloadFingerprint(store, `${target}\n${config.pathTemplate}`);
  const skipOf = async (store: CollectStore, ctx: SinkContext, fingerprint: string) =>
    skipReason({ ref: target, exportMinInterval: config.exportMinInterval }, await loadS3State(stateDir, store.cluster), {
      url: target,
      cluster: store.cluster,
      fingerprint,
      force: ctx.force,
      now: ctx.now(),
    });

  async function readManifest(objects: ObjectStore, cluster: string, signal: AbortSignal): Promise<ManifestFound> {
    const stored = await objects.get(manifestKey(keyOf, cluster), { signal });
    if (!stored) return { manifest: undefined, etag: undefined };
    return { manifest: parseManifest(stored.body.toString('utf8'), cluster), etag: stored.etag };
  }

  /** Compares the store with what the manifest names; `write` stores or records each change (apply). */
  function compare(
    store: CollectStore,
    objects: ObjectStore,
    found: ManifestFound,
    ctx: SinkContext,
    write?: (change: DocumentChange) => Promise<void>,
  ): Promise<DocumentComparison> {
    const existing = new Map(Object.values(found.manifest?.shards ?? {}).map((entry) => [entry.path, entry.sha256]));
    const read = async (path: string): Promise<string> => {
      const stored = await objects.get(keyOf(path), { signal: ctx.signal });
      // The manifest names it, the bucket lacks it: nothing to carry over from, nothing to remove.
      if (!stored) ctx.log.warn('s3 sink: an object the manifest names is missing', { sink: config.name, key: quoted(keyOf(path)) });
      return stored?.body.toString('utf8') ?? '';
    };
    return compareDocuments(
      store,
      { existing, read, versionOf: documentSha256 },
      {
        layout: shardPathLayout(config.pathTemplate, store.cluster, config.name),
        memos: manifestMemos(found.manifest),
        checkAbort: () => checkAbort(ctx),
        claim: ctx.documents,
        write,
      },
    );
  }

  const planOf = (compared: DocumentComparison, unchanged?: string): SinkPlan => ({
    sink: config.name,
    type: 's3',
    unit: 'files',
    ...(compared.changes === 0 || unchanged ? { skipped: { reason: 'unchanged' as const, message: unchanged ?? `${target} already holds this content` } } : {}),
    totals: compared.files.totals,
    shards: compared.files.shards,
  });

  /** The manifest after an export: every shard whose object stays, as written now or as it was. */
  function nextManifest(
    store: CollectStore,
    fingerprint: string,
    before: S3Manifest | undefined,
    compared: DocumentComparison,
    written: Map<string, { sha256: string; bytes: number; rows: number }>,
  ): S3Manifest {
    const shards: S3Manifest['shards'] = {};
    for (const { shard, path, counts } of compared.files.shards) {
      if (counts.removed > 0 || path === undefined) continue;
      const kept = written.get(path) ?? before?.shards[shard];
      if (!kept) continue;
      shards[shard] = { path, sha256: kept.sha256, rows: kept.rows, bytes: kept.bytes, fingerprint: compared.memos[shard]?.fingerprint ?? '' };
    }
    return {
      version: MANIFEST_VERSION,
      cluster: store.cluster,
      collectedAt: store.manifest.collectedAt,
      fingerprint,
      incomplete: store.incompleteResources().map(resourceTypeKey),
      shards,
    };
  }

  /** Writes the manifest, conditionally unless `conditionalWrites: off`; returns its ETag. */
  async function putManifest(objects: ObjectStore, manifest: S3Manifest, etag: string | undefined, ctx: SinkContext): Promise<string> {
    const key = manifestKey(keyOf, manifest.cluster);
    const body = `${JSON.stringify(manifest, null, 2)}\n`;
    const plain = { contentType: 'application/json', signal: ctx.signal };
    if (config.conditionalWrites === 'off') return objects.put(key, body, plain);
    try {
      return await objects.put(key, body, { ...plain, ...(etag === undefined ? { ifNoneMatch: '*' as const } : { ifMatch: etag }) });
    } catch (error) {
      if ((error as KollectError).code !== S3_NOT_IMPLEMENTED) throw error;
      if (config.conditionalWrites === 'required') {
        throw new SinkError(
          config.name,
          `the store does not implement conditional writes (If-Match / If-None-Match), which conditionalWrites: required asks for; set conditionalWrites: off only when one run at a time writes each cluster`,
          { bucket: config.bucket },
          { code: S3_NOT_IMPLEMENTED, cause: error },
        );
      }
      ctx.log.warn('s3 sink: the store does not implement conditional writes; the manifest is written without (conditionalWrites: auto)', {
        sink: config.name,
      });
      return objects.put(key, body, plain);
    }
  }

  async function apply(store: CollectStore, ctx: SinkContext): Promise<SinkPlan> {
    const fingerprint = fingerprintOf(store);
    const skipped = await skipOf(store, ctx, fingerprint);
    if (skipped) return skippedPlan({ name: config.name, type: 's3', pathTemplate: config.pathTemplate }, store, skipped);
    const objects = await objectStore();
    const carryOver = store.hasPartialData();
    for (let attempt = 1; ; attempt++) {
      checkAbort(ctx);
      const found = await readManifest(objects, store.cluster, ctx.signal);
      const written = new Map<string, { sha256: string; bytes: number; rows: number }>();
      const removed: string[] = [];
      const uploads = new Uploads();
      const compared = await compare(store, objects, found, ctx, async (change) => {
        if (change.bytes === undefined || change.version === undefined) return void removed.push(change.path);
        const { bytes, version } = change;
        const rows = carryOver ? (parseShardDocument(bytes.toString('utf8'))?.rows.length ?? 0) : (store.shard(change.shard)?.rows ?? 0);
        await uploads.start(async () => {
          await objects.put(keyOf(change.path), bytes, { sha256: version, gzip: config.gzip, contentType: 'application/json', signal: ctx.signal });
          written.set(change.path, { sha256: version, bytes: bytes.length, rows });
        });
      }).finally(() => uploads.settled());
      await uploads.done();
      const remember = (manifestEtag: string): Promise<void> =>
        saveS3State(stateDir, { url: target, cluster: store.cluster, fingerprint, exportedAt: ctx.now().toISOString(), manifestEtag });
      if (compared.changes === 0 && found.manifest?.fingerprint === fingerprint && found.etag !== undefined) {
        await remember(found.etag);
        return planOf(compared, `${target} already holds this content; nothing written`);
      }
      // Last moment to stop: past the manifest, the export has happened.
      checkAbort(ctx);
      let etag: string;
      try {
        etag = await putManifest(objects, nextManifest(store, fingerprint, found.manifest, compared, written), found.etag, ctx);
      } catch (error) {
        if ((error as KollectError).code !== S3_PRECONDITION_FAILED) throw error;
        if (attempt >= MANIFEST_ATTEMPTS) {
          throw new SinkError(
            config.name,
            `manifest of cluster ${store.cluster} in ${target} changed under this export ${attempt} times: another run of this cluster keeps writing it; nothing of this export is committed`,
            { bucket: config.bucket, attempts: attempt },
            { code: 'S3_MANIFEST_CONFLICT', cause: error },
          );
        }
        ctx.log.info('s3 sink: another run wrote the manifest first; re-reading and retrying', { sink: config.name, attempt });
        continue;
      }
      // Only now that the manifest no longer names them: objects of vanished shards go.
      if (removed.length > 0) {
        const deleted = await objects.deleteMany(removed.map(keyOf), { signal: ctx.signal });
        for (const refused of deleted.errors)
          ctx.log.warn('s3 sink: a stale object could not be deleted (the manifest no longer names it)', {
            sink: config.name,
            key: quoted(refused.key),
            code: refused.code,
          });
      }
      await remember(etag);
      ctx.log.info('s3 export committed', { sink: config.name, target, ...compared.files.totals, attempts: attempt });
      return planOf(compared);
    }
  }

  /** Plans against the manifest as it is now (one GET), writing nothing. */
  async function plan(store: CollectStore, ctx: SinkContext): Promise<SinkPlan> {
    const fingerprint = fingerprintOf(store);
    const skipped = await skipOf(store, ctx, fingerprint);
    if (skipped) return skippedPlan({ name: config.name, type: 's3', pathTemplate: config.pathTemplate }, store, skipped);
    const objects = await objectStore();
    const found = await readManifest(objects, store.cluster, ctx.signal);
    const compared = await compare(store, objects, found, ctx);
    return planOf(compared, found.manifest?.fingerprint === fingerprint ? `${target} already holds this content` : undefined);
  }

  const wrap = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof KollectError) throw error;
      throw new SinkError(config.name, `s3 export failed: ${(error as Error).message}`, { bucket: config.bucket }, { cause: error });
    }
  };

  return {
    name: config.name,
    type: 's3',
    sharesDocuments: true,
    plan: (store, ctx) => wrap(() => plan(store, ctx)),
    apply: (store, ctx) => wrap(() => withDuration(() => apply(store, ctx))),
    close: async () => connection?.close(),
  };
}
