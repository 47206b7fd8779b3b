import * as z from 'zod/mini';
import { dnsLabel, duration, pathTemplate, requestTimeout, secretRef } from '../../config/fields.js';
import { nonEmpty, wholeNumber } from '../../zod.js';

/**
 * A bucket name as AWS S3 takes it (3-63 characters), or as GCS's XML API does (up to 222 with
 * dots, and "_"): lowercase letters, digits, ".", "-", "_", starting and ending with a letter or digit.
 */
const bucketName = z
  .string()
  .check(
    z.regex(
      /^[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]$/,
      'must be a bucket name: 3 to 222 lowercase letters, digits, ".", "-" or "_", starting and ending with a letter or digit',
    ),
  );

/** Where under the bucket this sink's objects go: '' (the bucket's root) or a relative path such as `fleet/prod`. */
const keyPrefix = z
  .string()
  .check(
    z.refine(
      (p) => p === '' || (!p.startsWith('/') && !p.split('/').some((segment) => segment === '..' || segment === '.')),
      'must be a relative key prefix without "." or ".." segments, e.g. fleet/prod',
    ),
  );

/**
 * The object-store sink (`type: s3`): AWS S3 and S3-compatible stores (MinIO, Ceph, R2, GCS's XML
 * API). Registered in the config union by the sink registry.
 */
export const s3SinkConfigSchema = z
  .strictObject({
    name: dnsLabel,
    type: z.literal('s3'),
    bucket: bucketName,
    /** Key prefix every object of this sink lives under; the pathTemplate follows it. */
    prefix: z._default(keyPrefix, ''),
    pathTemplate,
    /** An S3-compatible store's URL (MinIO, R2, GCS); AWS S3's own endpoint when absent. Credentials never go in it. */
    endpoint: z.optional(
      z
        .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
        .check(z.refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), 'must not carry credentials; use credentials')),
    ),
    /** The bucket's region; AWS_REGION (the SDK's chain) when absent. */
    region: z.optional(nonEmpty()),
    /** `https://endpoint/bucket/key` instead of `https://bucket.endpoint/key`: MinIO and most self-hosted stores need it. */
    forcePathStyle: z._default(z.boolean(), false),
    /** Minimum time between two exports of this sink's cluster. */
    exportMinInterval: z.prefault(duration, 0),
    /** Store the objects gzip-compressed (Content-Encoding: gzip). */
    gzip: z._default(z.boolean(), false),
    /** An https endpoint whose certificate a private CA signed: that CA's certificates (PEM), trusted instead of Node's roots. */
    tls: z.optional(z.strictObject({ caFile: nonEmpty() })),
    /** A static key pair, referenced; without it the SDK's default chain (environment, web identity, instance profile). */
    credentials: z.optional(
      z.strictObject({
        accessKeyId: secretRef,
        secretAccessKey: secretRef,
        /** For temporary credentials. */
        sessionToken: z.optional(secretRef),
      }),
    ),
    /**
     * The manifest's If-Match / If-None-Match, which make racing runs safe. `auto`: used, and
     * turned off for a store that answers that it does not implement them; `required`: such a
     * store fails the export; `off`: never sent (a store without them, one writer per cluster).
     */
    conditionalWrites: z._default(z.enum(['auto', 'required', 'off']), 'auto'),
    /** How long the store may stay silent during one request before it is given up (and retried). */
    requestTimeout: z.prefault(requestTimeout, '60s'),
    /** Retries of one request after a 5xx, a throttling answer, a timeout or a dropped connection. */
    retries: z._default(wholeNumber(0, 10), 3),
  })
  .check(
    z.refine((sink) => sink.tls === undefined || sink.endpoint === undefined || /^https:/i.test(sink.endpoint), {
      path: ['tls'],
      error: 'applies only to an https endpoint',
    }),
  );
export type S3SinkConfig = z.infer<typeof s3SinkConfigSchema>;
export type S3SinkConfigInput = z.input<typeof s3SinkConfigSchema>;
