import { createHash } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzip, gzip } from 'node:zlib';
import {
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import type { S3Connection } from './s3-client.js';
import { S3_NOT_IMPLEMENTED, s3Error, type S3Operation } from './s3-errors.js';

/**
 * The few object operations the s3 sink needs, on one bucket, over the real SDK client. Keys are
 * whole keys (the sink puts its prefix in front). Every failure is a kollect error (s3-errors.ts);
 * an absent object is `undefined`, not an error. Bodies are whole buffers: a shard document is
 * small (kollect keeps shards under ~1.5 MB), and a buffer is signed with its SHA-256 instead of
 * being sent aws-chunked, which stores other than AWS do not all take.
 */

/** The metadata key (`x-amz-meta-sha256`) of a document's SHA-256, hex, of its bytes before any gzip. ETags are no content hash under SSE-KMS or multipart. */
export const SHA256_METADATA = 'sha256';

/** An object's headers. */
export interface ObjectHead {
  /** As S3 gives it, quoted: what If-Match takes. */
  etag: string;
  /** The document's SHA-256 from the object's metadata; undefined for an object kollect did not write. */
  sha256: string | undefined;
  /** User metadata (`x-amz-meta-*`), lowercase names without the prefix. */
  metadata: Record<string, string>;
  /** Stored bytes (compressed, when gzip). */
  size: number;
}

export interface StoredObject extends ObjectHead {
  /** The document's bytes, uncompressed when the object was stored gzip-encoded. */
  body: Buffer;
}

export interface PutOptions {
  contentType?: string;
  /** Store the bytes gzip-compressed, with Content-Encoding: gzip. */
  gzip?: boolean;
  /** The body's SHA-256 (hex) when the caller has it already; computed otherwise. */
  sha256?: string;
  /** Write only over this ETag (a 412 otherwise: S3_PRECONDITION_FAILED). */
  ifMatch?: string;
  /** Write only where no object is (`If-None-Match: *`). */
  ifNoneMatch?: '*';
  signal?: AbortSignal;
}

/** What a multi-object delete did: keys deleted (or already absent), and the keys the store refused, with its reason. */
export interface DeleteResult {
  deleted: string[];
  errors: Array<{ key: string; code: string; message: string }>;
}

export interface ListedObject {
  key: string;
  size: number;
  etag: string;
}

export interface ObjectStore {
  get(key: string, options?: { signal?: AbortSignal }): Promise<StoredObject | undefined>;
  head(key: string, options?: { signal?: AbortSignal }): Promise<ObjectHead | undefined>;
  /** Writes the object; returns its new ETag. */
  put(key: string, body: Buffer | string, options?: PutOptions): Promise<string>;
  /** Deletes the keys, 1,000 to a request (DeleteObjects' limit); one by one where the store has no multi-object delete (GCS's XML API). */
  deleteMany(keys: readonly string[], options?: { signal?: AbortSignal }): Promise<DeleteResult>;
  /** Every object under `prefix`, page by page (`pageSize` keys a request, at most 1,000). */
  list(prefix: string, options?: { signal?: AbortSignal; pageSize?: number }): AsyncGenerator<ListedObject>;
}

/** DeleteObjects takes at most this many keys. */
const DELETE_BATCH = 1000;
/** Single deletes in flight at once where the store has no multi-object delete. */
const SINGLE_DELETES_AT_ONCE = 8;

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

function isNotFound(error: unknown): boolean {
  return error instanceof S3ServiceException && (error.$metadata.httpStatusCode === 404 || error.name === 'NoSuchKey' || error.name === 'NotFound');
}

export function createObjectStore(connection: S3Connection): ObjectStore {
  const { client, bucket } = connection;

  /** Runs one operation, mapping its failure. */
  async function attempt<T>(operation: S3Operation, signal: AbortSignal | undefined, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw s3Error(connection, operation, error, signal);
    }
  }

  const headOf = (output: { ETag?: string; Metadata?: Record<string, string>; ContentLength?: number }, size = output.ContentLength ?? 0): ObjectHead => {
    const metadata = output.Metadata ?? {};
    return { etag: output.ETag ?? '', sha256: metadata[SHA256_METADATA], metadata, size };
  };

  async function deleteOneByOne(keys: readonly string[], signal: AbortSignal | undefined): Promise<DeleteResult> {
    const queue = [...keys];
    const deleted: string[] = [];
    const worker = async (): Promise<void> => {
      for (let key = queue.shift(); key !== undefined; key = queue.shift()) {
        const current = key;
        await attempt({ action: 'DELETE', key: current }, signal, () =>
          client.send(new DeleteObjectCommand({ Bucket: bucket, Key: current }), { abortSignal: signal }),
        );
        deleted.push(current);
      }
    };
    await Promise.all(Array.from({ length: Math.min(SINGLE_DELETES_AT_ONCE, keys.length) }, worker));
    return { deleted, errors: [] };
  }

  return {
    async get(key, { signal } = {}) {
      return attempt({ action: 'GET', key }, signal, async () => {
        let output;
        try {
          output = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
        } catch (error) {
          if (isNotFound(error)) return undefined;
          throw error;
        }
        const stored = Buffer.from(await output.Body!.transformToByteArray());
        const body = output.ContentEncoding === 'gzip' ? await gunzipAsync(stored) : stored;
        return { ...headOf(output, stored.length), body };
      });
    },

    async head(key, { signal } = {}) {
      return attempt({ action: 'HEAD', key }, signal, async () => {
        try {
          return headOf(await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }));
        } catch (error) {
          if (isNotFound(error)) return undefined;
          throw error;
        }
      });
    },

    async put(key, body, options = {}) {
      const bytes = typeof body === 'string' ? Buffer.from(body) : body;
      const sha256 = options.sha256 ?? createHash('sha256').update(bytes).digest('hex');
      const stored = options.gzip ? await gzipAsync(bytes) : bytes;
      return attempt({ action: 'PUT', key }, options.signal, async () => {
        const command = new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: stored,
          ContentLength: stored.length,
          ContentType: options.contentType ?? 'application/json',
          ...(options.gzip ? { ContentEncoding: 'gzip' } : {}),
          Metadata: { [SHA256_METADATA]: sha256 },
          ...(options.ifMatch !== undefined ? { IfMatch: options.ifMatch } : {}),
          ...(options.ifNoneMatch !== undefined ? { IfNoneMatch: options.ifNoneMatch } : {}),
        });
        // The body's SHA-256 is known (unless gzipped): declared in x-amz-content-sha256 before
        // signing, it is what SigV4 signs, and the SDK's signer takes a present header instead of
        // hashing the body again (@smithy/signature-v4, getPayloadHash). The server still checks it.
        if (!options.gzip) {
          command.middlewareStack.add(
            (next) => async (args) => {
              (args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = sha256;
              return next(args);
            },
            { step: 'build', name: 'kollectPayloadHash' },
          );
        }
        const output = await client.send(command, { abortSignal: options.signal });
        return output.ETag ?? '';
      });
    },

    async deleteMany(keys, { signal } = {}) {
      const result: DeleteResult = { deleted: [], errors: [] };
      for (let start = 0; start < keys.length; start += DELETE_BATCH) {
        const batch = keys.slice(start, start + DELETE_BATCH);
        let output;
        try {
          output = await attempt({ action: `DELETE ${batch.length} objects` }, signal, () =>
            client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }), { abortSignal: signal }),
          );
        } catch (error) {
          if ((error as { code?: string }).code !== S3_NOT_IMPLEMENTED) throw error;
          const single = await deleteOneByOne(batch, signal);
          result.deleted.push(...single.deleted);
          continue;
        }
        const refused = (output.Errors ?? []).map((e) => ({ key: e.Key ?? '', code: e.Code ?? 'Unknown', message: e.Message ?? '' }));
        const refusedKeys = new Set(refused.map((e) => e.key));
        result.deleted.push(...batch.filter((key) => !refusedKeys.has(key)));
        result.errors.push(...refused);
      }
      return result;
    },

    async *list(prefix, { signal, pageSize } = {}) {
      let token: string | undefined;
      do {
        const page = await attempt({ action: `list under ${prefix === '' ? 'the bucket root' : prefix}` }, signal, () =>
          client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token, MaxKeys: pageSize }), { abortSignal: signal }),
        );
        for (const object of page.Contents ?? []) yield { key: object.Key ?? '', size: object.Size ?? 0, etag: object.ETag ?? '' };
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token !== undefined);
    },
  };
}
