import * as z from 'zod/mini';
import { count, nonEmpty } from '../zod.js';
import { DNS_LABEL } from '../rows/object-name.js';

/**
 * Field schemas that the configuration and every sink's own schema (src/sinks/<type>/config.ts)
 * share. This module imports nothing of the sinks, so a sink's config may import it without a cycle.
 */

/** Kubernetes names for clusters and sinks: lowercase DNS-1123 labels, so they fit paths and SQL. */
export const dnsLabel = z.string().check(z.minLength(1), z.maxLength(63), z.regex(DNS_LABEL, 'must be a lowercase DNS-1123 label (a-z, 0-9, "-")'));

/** SQL identifiers from config: validated here, and always quoted when used. */
export const sqlIdentifier = z
  .string()
  .check(z.regex(/^[A-Za-z_][A-Za-z0-9_]{0,62}$/, 'must be a SQL identifier: letters, digits and "_", not starting with a digit, at most 63 characters'));

/** Durations like `90s`, `15m`, `1h`, `1h30m`, `90d`, `0`. */
const durationPattern = /^(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
export const duration = z.pipe(
  z.union([count(), z.string()]),
  z.transform((value: number | string, ctx) => {
    if (typeof value === 'number') return value * 1000;
    const match = durationPattern.exec(value.trim());
    if (value.trim() === '0') return 0;
    if (!match || value.trim() === '') {
      ctx.issues.push({ code: 'custom', input: value, message: `"${value}" is not a duration such as 90s, 15m, 1h or 90d` });
      return z.NEVER;
    }
    const [, d = '0', h = '0', m = '0', s = '0'] = match;
    return (((Number(d) * 24 + Number(h)) * 60 + Number(m)) * 60 + Number(s)) * 1000;
  }),
);

/** How long a remote server may stay silent during a request before it is given up. */
export const requestTimeout = duration.check(z.refine((ms) => ms >= 1000, 'must be at least 1s'));

/**
 * A secret is referenced, never inlined: from an environment variable or a mounted file.
 * A plain string is refused so that credentials never land in a ConfigMap or a repo.
 */
export const secretRef = z.union([z.strictObject({ env: nonEmpty() }), z.strictObject({ file: nonEmpty() })], {
  error: 'must reference a secret as {env: NAME} or {file: PATH}; secrets are never written inline',
});
export type SecretRef = z.infer<typeof secretRef>;

const pathTemplateField = z.string().check(
  z.minLength(1),
  z.refine((t) => t.includes('{namespace}'), 'must contain {namespace}: one file per shard'),
  z.refine((t) => !t.startsWith('/') && !t.split('/').includes('..'), 'must be a relative path without ".."'),
  z.refine((t) => [...t.matchAll(/\{([^}]*)\}/g)].every((m) => m[1] === 'cluster' || m[1] === 'namespace'), 'only {cluster} and {namespace} may be used'),
);

/** Where a document sink puts each shard's document, `clusters/{cluster}/namespaces/{namespace}.json` unless set. */
export const pathTemplate = z._default(pathTemplateField, 'clusters/{cluster}/namespaces/{namespace}.json');
