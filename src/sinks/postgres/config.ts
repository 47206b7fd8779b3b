import * as z from 'zod/mini';
import { dnsLabel, duration, secretRef, sqlIdentifier } from '../../config/fields.js';

export const postgresSinkConfig = z
  .strictObject({
    name: dnsLabel,
    type: z.literal('postgres'),
    /** Connection URL, referenced (it carries a password). Defaults to env DATABASE_URL. */
    url: z._default(secretRef, { env: 'DATABASE_URL' }),
    schema: z._default(sqlIdentifier, 'public'),
    table: z._default(sqlIdentifier, 'kollect_items'),
    runsTable: z._default(sqlIdentifier, 'kollect_runs'),
    ssl: z.optional(
      z.strictObject({
        mode: z._default(z.enum(['disable', 'require', 'verify-ca', 'verify-full']), 'verify-full'),
        caFile: z.optional(z.string()),
      }),
    ),
    statementTimeout: z.prefault(duration, '5m'),
    /** What a second run of the same cluster does while the first holds the lock. */
    onLocked: z._default(z.enum(['wait', 'fail']), 'fail'),
  })
  .check(
    z.refine((sink) => sink.table !== sink.runsTable, {
      path: ['runsTable'],
      error: (issue) => `must differ from table ("${(issue.input as { table: string }).table}"): the runs are recorded in a table of their own`,
    }),
  );
export type PostgresSinkConfig = z.infer<typeof postgresSinkConfig>;
