import { createHash } from 'node:crypto';
import type pg from 'pg';
import { setLocalStatementTimeout } from './connection.js';

/**
 * The shared fleet table (ADR-0501), its runs table and the schema-version table: DDL,
 * versioned additive migrations (`kollect db init`) and the text `kollect db ddl` prints.
 *
 * Identifiers come from config, where they are validated as plain SQL identifiers; they are
 * nevertheless always quoted here (`quoteIdent`), so a name is never interpreted as SQL.
 */

/** Quotes one SQL identifier: `a"b` becomes `"a""b"`. Used for every identifier kollect emits. */
export function quoteIdent(name: string): string {
  if (name.includes('\0')) throw new Error('an SQL identifier cannot contain NUL');
  return `"${name.replace(/"/g, '""')}"`;
}

/** Quotes a string literal for DDL text (values in statements always go through parameters). */
export function quoteLiteral(value: string): string {
  if (value.includes('\0')) throw new Error('an SQL literal cannot contain NUL');
  return `'${value.replace(/'/g, "''")}'`;
}

/** `"schema"."name"`. */
export function qualified(schema: string, name: string): string {
  return `${quoteIdent(schema)}.${quoteIdent(name)}`;
}

/** PostgreSQL's identifier limit (NAMEDATALEN - 1 bytes). */
const MAX_IDENT = 63;

/** A name derived from `base` plus a suffix, shortened so that it stays within 63 bytes. */
export function derivedName(base: string, suffix: string): string {
  const room = MAX_IDENT - Buffer.byteLength(suffix);
  let head = base;
  while (Buffer.byteLength(head) > room) head = head.slice(0, -1);
  if (head !== base) {
    // Keep derived names distinct when two long bases share a prefix.
    const tag = createHash('sha256').update(base).digest('hex').slice(0, 6);
    head = `${head.slice(0, Math.max(0, room - 7))}_${tag}`;
  }
  return `${head}${suffix}`;
}

/** Where the sink's tables live, from config (validated identifiers, unquoted). */
export interface TableNames {
  schema: string;
  /** The current-state items table. */
  table: string;
  /** One row per export run. */
  runsTable: string;
}

/** The schema-version table: one row per (table, applied migration). */
export const MIGRATIONS_TABLE = 'kollect_schema_migrations';

/** Quoted, schema-qualified names used in SQL. */
export interface TableRefs {
  schema: string;
  items: string;
  runs: string;
  migrations: string;
  /** For messages: `schema.table`, unquoted. */
  itemsLabel: string;
}

export function tableRefs(names: TableNames): TableRefs {
  return {
    schema: quoteIdent(names.schema),
    items: qualified(names.schema, names.table),
    runs: qualified(names.schema, names.runsTable),
    migrations: qualified(names.schema, MIGRATIONS_TABLE),
    itemsLabel: `${names.schema}.${names.table}`,
  };
}

/** The items table's columns, in table order. The primary key is the row identity. */
export const ITEM_COLUMNS = [
  'cluster',
  'namespace',
  'name',
  'uid',
  'api_group',
  'api_version',
  'kind',
  'resource',
  'labels',
  'attributes',
  'checksum',
  'resource_version',
  'created_at',
  'collected_at',
  'exported_at',
] as const;

/** Row identity and the upsert's conflict target. */
export const KEY_COLUMNS = ['cluster', 'namespace', 'name', 'uid'] as const;

function itemsColumnsSql(): string {
  return `  cluster          text        NOT NULL,
  namespace        text        NOT NULL,  -- '' for cluster-scoped objects
  name             text        NOT NULL,
  uid              text        NOT NULL,
  api_group        text        NOT NULL,  -- '' for the core group
  api_version      text        NOT NULL,
  kind             text        NOT NULL,
  resource         text        NOT NULL,  -- plural, as listed
  labels           jsonb       NOT NULL,
  attributes       jsonb       NOT NULL,
  checksum         text        NOT NULL,  -- content digest; unchanged rows are never rewritten
  resource_version text        NOT NULL,
  created_at       timestamptz NULL,
  collected_at     timestamptz NOT NULL,
  exported_at      timestamptz NOT NULL,  -- when kollect last wrote the row
  PRIMARY KEY (cluster, namespace, name, uid)`;
}

function runsTableSql(refs: TableRefs): string {
  return `CREATE TABLE IF NOT EXISTS ${refs.runs} (
  id          bigserial   PRIMARY KEY,
  cluster     text        NOT NULL,
  sink        text        NOT NULL,
  started_at  timestamptz NOT NULL,
  finished_at timestamptz NOT NULL,
  rows        bigint      NOT NULL,
  inserted    bigint      NOT NULL,
  updated     bigint      NOT NULL,
  unchanged   bigint      NOT NULL,
  deleted     bigint      NOT NULL,
  status      text        NOT NULL CHECK (status IN ('succeeded', 'failed')),
  error       text        NULL
)`;
}

function migrationsTableSql(refs: TableRefs): string {
  return `CREATE TABLE IF NOT EXISTS ${refs.migrations} (
  table_name  text        NOT NULL,
  version     integer     NOT NULL,
  description text        NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, version)
)`;
}

/**
 * One additive migration. Statements use IF NOT EXISTS, so a table a DBA created from `db ddl` is
 * kept. A migration is recorded under the name of the table it builds, so pointing a sink at a
 * new runs table (or items table) makes `db init` build that one.
 */
export interface Migration {
  version: number;
  /** Which of the sink's tables the migration builds. */
  builds: 'items' | 'runs';
  description: string;
  statements(names: TableNames, refs: TableRefs): string[];
}

/**
 * The migrations, in order. Additive only: new versions add tables, columns (`ADD COLUMN IF
 * NOT EXISTS`) or indexes; nothing is ever dropped or rewritten.
 */
export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    builds: 'items',
    description: 'items table, primary key (cluster, namespace, name, uid)',
    statements: (_names, refs) => [`CREATE TABLE IF NOT EXISTS ${refs.items} (\n${itemsColumnsSql()}\n)`],
  },
  {
    version: 2,
    builds: 'runs',
    description: 'runs table',
    statements: (names, refs) => [
      runsTableSql(refs),
      `CREATE INDEX IF NOT EXISTS ${quoteIdent(derivedName(names.runsTable, '_cluster_started_idx'))} ON ${refs.runs} (cluster, started_at)`,
    ],
  },
];

/** The name a migration is recorded under. */
function builtTable(migration: Migration, names: TableNames): string {
  return migration.builds === 'items' ? names.table : names.runsTable;
}

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

function brinSql(names: TableNames, refs: TableRefs): string {
  return `CREATE INDEX IF NOT EXISTS ${quoteIdent(derivedName(names.table, '_exported_at_brin'))} ON ${refs.items} USING brin (exported_at)`;
}

/** What `db init` did. */
export interface InitResult {
  schema: string;
  table: string;
  runsTable: string;
  /** True when the schema itself had to be created. */
  createdSchema: boolean;
  /** Migrations applied by this call (empty when the database was already up to date). */
  applied: Array<{ version: number; description: string; table: string }>;
  /** Version the database is at now. */
  version: number;
  /** BRIN index on exported_at: created now, already there, or not asked for. */
  brin: 'created' | 'exists' | 'skipped';
}

/** The small part of a pg client that init needs. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

/** What `db init` may do beyond the tables. */
export interface InitOptions {
  /** Also create the BRIN index on exported_at. */
  brin?: boolean;
  /**
   * The statement timeout of the init transaction in milliseconds (0: none), set with SET LOCAL
   * right after BEGIN, so it also bounds the wait for another init's lock. Omitted: the
   * server's own setting applies.
   */
  statementTimeoutMs?: number;
}

/**
 * `kollect db init`: idempotent and additive. Runs in one transaction under an advisory lock
 * (two inits at once serialise), creates the schema when missing, the version table, and
 * applies the migrations not yet recorded for this items table. Everything, the lock included,
 * is transaction-scoped, so it works through PgBouncer in transaction pooling mode.
 */
export async function initSchema(client: Queryable, names: TableNames, options: InitOptions = {}): Promise<InitResult> {
  const refs = tableRefs(names);
  const result: InitResult = {
    schema: names.schema,
    table: names.table,
    runsTable: names.runsTable,
    createdSchema: false,
    applied: [],
    version: 0,
    brin: 'skipped',
  };
  await client.query('BEGIN');
  try {
    if (options.statementTimeoutMs !== undefined) {
      await setLocalStatementTimeout(client, { statementTimeout: options.statementTimeoutMs });
    }
    await client.query('SELECT pg_advisory_xact_lock($1::bigint)', [advisoryKey(`kollect:migrate:${names.schema}`)]);
    const schemaExists = await client.query('SELECT 1 FROM pg_namespace WHERE nspname = $1', [names.schema]);
    if (schemaExists.rowCount === 0) {
      // Only when missing: CREATE SCHEMA IF NOT EXISTS still needs CREATE on the database.
      await client.query(`CREATE SCHEMA ${refs.schema}`);
      result.createdSchema = true;
    }
    await client.query(migrationsTableSql(refs));
    const done = await client.query<{ table_name: string; version: number }>(
      `SELECT table_name, version FROM ${refs.migrations} WHERE table_name IN ($1, $2)`,
      [names.table, names.runsTable],
    );
    const applied = new Set(done.rows.map((r) => `${r.table_name}/${r.version}`));
    for (const migration of MIGRATIONS) {
      if (applied.has(`${builtTable(migration, names)}/${migration.version}`)) continue;
      for (const statement of migration.statements(names, refs)) await client.query(statement);
      await client.query(`INSERT INTO ${refs.migrations} (table_name, version, description) VALUES ($1, $2, $3)`, [
        builtTable(migration, names),
        migration.version,
        migration.description,
      ]);
      result.applied.push({ version: migration.version, description: migration.description, table: `${names.schema}.${builtTable(migration, names)}` });
    }
    result.version = SCHEMA_VERSION;
    if (options.brin) {
      const indexName = derivedName(names.table, '_exported_at_brin');
      const found = await client.query('SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = $2', [
        names.schema,
        indexName,
      ]);
      if (found.rowCount === 0) {
        await client.query(brinSql(names, refs));
        result.brin = 'created';
      } else {
        result.brin = 'exists';
      }
    }
    await client.query('COMMIT');
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw error;
  }
  return result;
}

/**
 * The advisory lock an export of `cluster` into this items table holds for its transaction. Keyed
 * by table and cluster: two runs of one cluster exclude each other, other clusters do not wait.
 */
export function exportLockKey(names: TableNames, cluster: string): string {
  return advisoryKey(`kollect:export:${names.schema}.${names.table}:${cluster}`);
}

/** A signed 64-bit advisory-lock key from a string (the first 8 bytes of its SHA-256). */
export function advisoryKey(text: string): string {
  return createHash('sha256').update(text).digest().readBigInt64BE(0).toString();
}

/** Why the current-state table is not partitioned by month; printed by `db ddl`, and as the refusal of `--partition-by month`. */
export const MONTH_PARTITIONING_NOTE: readonly string[] = [
  'Why this table is not partitioned by month (of exported_at or collected_at): it holds the',
  'CURRENT state of every object, not a history. A primary key on a partitioned table must',
  'contain the partition key, so the key would become (cluster, namespace, name, uid, exported_at):',
  'the upsert ON CONFLICT (cluster, namespace, name, uid) would have no matching unique index, and',
  'an object written again in a later month would be a new key in another partition, so every',
  'object would pile up one copy per month instead of being updated. Unchanged rows are never',
  'rewritten either, so an old month does not hold old data. Partition by cluster instead',
  '(--partition-by cluster); keep monthly partitions for a separate history table.',
];

export interface DdlOptions {
  /** Partition the items table by LIST (cluster). */
  partitionBy?: 'cluster';
  /** Add the BRIN index on exported_at. */
  brin?: boolean;
  /** Clusters to create a partition for (the config's cluster). */
  clusters?: string[];
}

/**
 * The DDL a DBA may run instead of `db init` (`kollect db ddl`). It creates the same tables and
 * records the migrations as applied, so a later `db init` finds nothing to do.
 */
export function ddlText(names: TableNames, options: DdlOptions = {}): string {
  const refs = tableRefs(names);
  const out: string[] = [];
  out.push(`-- kollect schema version ${SCHEMA_VERSION}: items table ${names.schema}.${names.table}, runs table ${names.schema}.${names.runsTable}`);
  out.push('-- Generated by `kollect db ddl`. Every statement is idempotent (IF NOT EXISTS); nothing is dropped.');
  out.push('--');
  out.push(MONTH_PARTITIONING_NOTE.map((line) => `-- ${line}`).join('\n'));
  out.push('BEGIN;');
  out.push(`CREATE SCHEMA IF NOT EXISTS ${refs.schema};`);
  out.push('');
  out.push(`${migrationsTableSql(refs)};`);
  out.push('');
  if (options.partitionBy === 'cluster') {
    out.push(
      [
        '-- Partitioned by LIST (cluster). The primary key (cluster, namespace, name, uid) contains the',
        '-- partition key, as PostgreSQL requires of a unique constraint on a partitioned table, so the',
        '-- export upsert ON CONFLICT (cluster, namespace, name, uid) keeps working unchanged, and each',
        "-- cluster's export, delete and vacuum touch only its own partition.",
      ].join('\n'),
    );
    out.push(`CREATE TABLE IF NOT EXISTS ${refs.items} (\n${itemsColumnsSql()}\n) PARTITION BY LIST (cluster);`);
    out.push('');
    out.push('-- Rows of clusters without their own partition land here; move a big cluster out with');
    out.push('-- ALTER TABLE ... DETACH PARTITION / ATTACH PARTITION during a maintenance window.');
    out.push(`CREATE TABLE IF NOT EXISTS ${qualified(names.schema, derivedName(names.table, '_default'))} PARTITION OF ${refs.items} DEFAULT;`);
    for (const cluster of options.clusters ?? []) {
      const partition = derivedName(names.table, `_c_${cluster.replace(/[^A-Za-z0-9_]/g, '_')}`);
      out.push(`CREATE TABLE IF NOT EXISTS ${qualified(names.schema, partition)} PARTITION OF ${refs.items} FOR VALUES IN (${quoteLiteral(cluster)});`);
    }
    out.push('-- Per additional cluster:');
    out.push(`--   CREATE TABLE ${qualified(names.schema, derivedName(names.table, '_c_NAME'))} PARTITION OF ${refs.items} FOR VALUES IN ('NAME');`);
  } else {
    out.push(`${MIGRATIONS[0]!.statements(names, refs)[0]};`);
  }
  out.push('');
  for (const migration of MIGRATIONS.slice(1)) {
    for (const statement of migration.statements(names, refs)) out.push(`${statement};`);
  }
  if (options.brin) {
    out.push('');
    out.push('-- BRIN on exported_at: tiny, for time-range portal queries ("changed in the last hour").');
    out.push(`${brinSql(names, refs)};`);
  }
  out.push('');
  out.push('-- Record the versions as applied, so that `kollect db init` has nothing left to do.');
  for (const migration of MIGRATIONS) {
    out.push(
      `INSERT INTO ${refs.migrations} (table_name, version, description) VALUES (${quoteLiteral(builtTable(migration, names))}, ${migration.version}, ${quoteLiteral(migration.description)}) ON CONFLICT DO NOTHING;`,
    );
  }
  out.push('COMMIT;');
  return `${out.join('\n')}\n`;
}
