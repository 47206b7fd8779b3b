import * as z from 'zod/mini';
import { dnsLabel, duration, pathTemplate, requestTimeout, secretRef } from '../../config/fields.js';
import { nonEmpty, wholeNumber } from '../../zod.js';

export const gitSinkConfig = z
  .strictObject({
    name: dnsLabel,
    type: z.literal('git'),
    /** HTTP(S) remote; credentials never go in the URL. */
    url: z
      .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
      .check(z.refine((u) => !/^[a-z]+:\/\/[^/]*@/i.test(u), 'must not carry credentials; use auth')),
    ref: z._default(nonEmpty(), 'main'),
    pathTemplate,
    /** Minimum time between two exports of this ref (the seed's audit cadence). */
    exportMinInterval: z.prefault(duration, '1h'),
    /** Persistent mirror; defaults to $KOLLECT_GIT_MIRROR_DIR/<sink name>. */
    mirrorDir: z.optional(z.string()),
    auth: z.optional(
      z.strictObject({
        username: z.optional(secretRef),
        token: secretRef,
      }),
    ),
    /** An https server whose certificate a private CA signed: that CA's certificates (PEM), trusted instead of Node's roots. */
    tls: z.optional(z.strictObject({ caFile: nonEmpty() })),
    author: z._default(
      z.strictObject({
        name: z._default(nonEmpty(), 'kollect'),
        email: z._default(nonEmpty(), 'kollect@localhost'),
      }),
      { name: 'kollect', email: 'kollect@localhost' },
    ),
    /** Commit message prefix; kollect appends what changed. */
    message: z._default(z.string(), 'kollect snapshot'),
    pushRetries: z._default(wholeNumber(0, 20), 5),
    /**
     * How long the Git server may stay silent during a request (before its answer, or within it)
     * before the request is given up; a timed-out push is checked with a fetch, then retried.
     */
    requestTimeout: z.prefault(requestTimeout, '60s'),
  })
  .check(
    z.refine((sink) => sink.tls === undefined || /^https:/i.test(sink.url), {
      path: ['tls'],
      error: 'applies only to an https URL',
    }),
  );
export type GitSinkConfig = z.infer<typeof gitSinkConfig>;
