import * as z from 'zod/mini';
import { dnsLabel, duration, secretRef, sqlIdentifier } from '../../config/fields.js';

/** The changes table's settings, as the sink holds them once parsed; `history: false` is none. */
export interface HistorySettings {
  /** The changes table, in the sink's schema. */
  table: string;
  /** A cluster's first export with history: one run marked baseline (`run`), or an insert row per object (`rows`). */
  baseline: 'run' | 'rows';
}

export const DEFAULT_HISTORY: HistorySettings = { table: 'kollect_changes', baseline: 'run' };

/** `history: false | true | {table, baseline}`, parsed to `false` or the settings. */
const historySetting = z.pipe(
  z.union(
    [
      z.boolean(),
      z.strictObject({
        table: z._default(sqlIdentifier, DEFAULT_HISTORY.table),
        baseline: z._default(z.enum(['run', 'rows']), DEFAULT_HISTORY.baseline),
      }),
    ],
    { error: 'must be true, false or {table, baseline: run | rows}' },
  ),
  z.transform((value): false | HistorySettings => (value === true ? DEFAULT_HISTORY : value)),
);

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
    /** Record every insert, update and delete of an export in a changes table (docs/postgres.md, "History"). */
    history: z._default(historySetting, false),
  })
  .check(
    z.refine((sink) => sink.table !== sink.runsTable, {
      path: ['runsTable'],
      error: (issue) => `must differ from table ("${(issue.input as { table: string }).table}"): the runs are recorded in a table of their own`,
    }),
    z.refine((sink) => !sink.history || (sink.history.table !== sink.table && sink.history.table !== sink.runsTable), {
      path: ['history', 'table'],
      error: 'must differ from table and runsTable: the changes are recorded in a table of their own',
    }),
  );
export type PostgresSinkConfig = z.infer<typeof postgresSinkConfig>;
