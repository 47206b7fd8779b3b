/** The part of s3rver (which ships no types) that test/support/s3-server.ts uses. */
declare module 's3rver' {
  import type { Server } from 'node:http';
  import type { Readable } from 'node:stream';

  interface S3rverOptions {
    address?: string;
    port?: number;
    silent?: boolean;
    directory?: string;
    resetOnClose?: boolean;
    vhostBuckets?: boolean;
  }

  interface StoredObject {
    content: Readable;
    metadata: Record<string, string>;
  }

  class S3rver {
    constructor(options: S3rverOptions);
    run(): Promise<{ address: string; port: number }>;
    close(): Promise<void>;
    httpServer: Server;
    store: {
      putBucket(name: string): Promise<unknown>;
      getObject(bucket: string, key: string): Promise<StoredObject | null>;
      getBucket(name: string): Promise<object | null>;
      existsObject(bucket: string, key: string): Promise<boolean>;
      deleteObject(bucket: string, key: string): Promise<void>;
      /** Keys after `startAfter`, in key order; `metadata` holds etag (quoted), content-length, last-modified. */
      listObjects(
        bucket: string,
        options: { prefix?: string; startAfter?: string; maxKeys?: number },
      ): Promise<{ objects: { key: string; metadata: Record<string, string> }[]; isTruncated: boolean }>;
    };
  }
  export default S3rver;
}
