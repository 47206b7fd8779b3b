import type { PostgresSinkConfig } from '../../config/schema.js';
import { advisoryKey, derivedName, qualified, quoteIdent, quoteLiteral } from './sql-names.js';

/**
 * The sink's tables: the shared fleet table (ADR-0501), its runs table, the changes table of
 * `history`, and the schema-version table; their DDL and the versioned additive migrations that
 * `kollect db init` applies (init-schema.ts) and `kollect db ddl` prints (ddl.ts).
 */

/** Where the sink's tables live, from config (validated identifiers, unquoted). */
export interface TableNames {
  schema: string;
  /** The current-state items table. */
  table: string;
  /** One row per export run. */
  runsTable: string;
  /** The changes table, when the sink records history. */
  historyTable?: string;
}

/** The names of a sink's tables. */
export function tableNames(config: Pick<PostgresSinkConfig, 'schema' | 'table' | 'runsTable' | 'history'>): TableNames {
  return { schema: config.schema, table: config.table, runsTable: config.runsTable, ...(config.history ? { historyTable: config.history.table } : {}) };
}

/** The schema-version table: one row per (table, applied migration). */
export const MIGRATIONS_TABLE = 'kollect_schema_migrations';

/** Quoted, schema-qualified names used in SQL. */
export interface TableRefs {
  schema: string;
  items: string;
  runs: string;
  migrations: string;
  /** The changes table, when the sink records history. */
  changes?: string;
  /** For messages: `schema.table`, unquoted. */
  itemsLabel: string;
}

export function tableRefs(names: TableNames): TableRefs {
  return {
    schema: quoteIdent(names.schema),
    items: qualified(names.schema, names.table),
    runs: qualified(names.schema, names.runsTable),
    migrations: qualified(names.schema, MIGRATIONS_TABLE),
    ...(names.historyTable === undefined ? {} : { changes: qualified(names.schema, names.historyTable) }),
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

export function itemsColumnsSql(): string {
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

export function migrationsTableSql(refs: TableRefs): string {
  return `CREATE TABLE IF NOT EXISTS ${refs.migrations} (
  table_name  text        NOT NULL,
  version     integer     NOT NULL,
  description text        NOT NULL,
  applied_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, version)
)`;
}

/** The changes table's columns (the contract with `kollect changes`: add, never rename). */
function changesColumnsSql(): string {
  return `  cluster           text        NOT NULL,
  namespace         text        NOT NULL,
  name              text        NOT NULL,
  uid               text        NOT NULL,
  api_group         text        NOT NULL,
  api_version       text        NOT NULL,
  kind              text        NOT NULL,
  resource          text        NOT NULL,
  operation         text        NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
  changed_at        timestamptz NOT NULL,  -- the export's time: the items' exported_at
  run_id            bigint      NOT NULL,  -- id in the runs table
  checksum_before   text        NULL,      -- "before" columns: NULL for an insert
  checksum_after    text        NULL,      -- "after" columns: NULL for a delete
  labels_before     jsonb       NULL,
  labels_after      jsonb       NULL,
  attributes_before jsonb       NULL,
  attributes_after  jsonb       NULL,
  created_at_before timestamptz NULL`;
}

/** The changes table and its indexes; partitioned by month of changed_at when asked (partitions are the DBA's). */
export function changesTableSql(names: TableNames, options: { partitioned?: boolean } = {}): string[] {
  const table = names.historyTable!;
  const changes = qualified(names.schema, table);
  return [
    `CREATE TABLE IF NOT EXISTS ${changes} (\n${changesColumnsSql()}\n)${options.partitioned ? ' PARTITION BY RANGE (changed_at)' : ''}`,
    `CREATE INDEX IF NOT EXISTS ${quoteIdent(derivedName(table, '_key_idx'))} ON ${changes} (cluster, namespace, name, changed_at)`,
    `CREATE INDEX IF NOT EXISTS ${quoteIdent(derivedName(table, '_changed_at_brin'))} ON ${changes} USING brin (changed_at)`,
  ];
}

/** A calendar month (UTC), as `--history-months 2027-01..2027-06` names them. */
export interface Month {
  year: number;
  /** 1 to 12. */
  month: number;
}

/** The month after `m`. */
export function nextMonth(m: Month): Month {
  return m.month === 12 ? { year: m.year + 1, month: 1 } : { year: m.year, month: m.month + 1 };
}

/** `2027-01`. */
export function monthLabel(m: Month): string {
  return `${String(m.year).padStart(4, '0')}-${String(m.month).padStart(2, '0')}`;
}

/** The partition of the changes table that holds month `m` (UTC): the statement a DBA runs ahead of it. */
export function monthPartitionSql(names: TableNames, m: Month): string {
  const table = names.historyTable!;
  const partition = qualified(names.schema, derivedName(table, `_${monthLabel(m).replace('-', '_')}`));
  const start = (x: Month): string => quoteLiteral(`${monthLabel(x)}-01 00:00:00+00`);
  return `CREATE TABLE IF NOT EXISTS ${partition} PARTITION OF ${qualified(names.schema, table)} FOR VALUES FROM (${start(m)}) TO (${start(nextMonth(m))})`;
}

/**
 * One additive migration. Statements use IF NOT EXISTS, so a table a DBA created from `db ddl` is
 * kept. A migration is recorded under the name of the table it builds, so pointing a sink at a
 * new runs table (or items table, or changes table) makes `db init` build that one.
 */
export interface Migration {
  version: number;
  /** Which of the sink's tables the migration builds; `history` only when the sink records history. */
  builds: 'items' | 'runs' | 'history';
  description: string;
  statements(names: TableNames, refs: TableRefs): string[];
}

/**
 * The migrations, in order. Additive only: new versions add tables, columns (`ADD COLUMN IF
 * NOT EXISTS`, with a default, so an older exporter's INSERT still fits) or indexes; nothing is
 * ever dropped or rewritten.
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
  {
    version: 3,
    builds: 'runs',
    description: "runs.baseline: the run a cluster's history starts from",
    statements: (names, refs) => [
      `ALTER TABLE ${refs.runs} ADD COLUMN IF NOT EXISTS baseline boolean NOT NULL DEFAULT false`,
      `CREATE INDEX IF NOT EXISTS ${quoteIdent(derivedName(names.runsTable, '_baseline_idx'))} ON ${refs.runs} (cluster) WHERE baseline`,
    ],
  },
  {
    version: 4,
    builds: 'history',
    description: 'changes table: one row per insert, update and delete of an export',
    statements: (names) => changesTableSql(names),
  },
];

/** The name a migration is recorded under; undefined when the sink does not have that table. */
export function builtTable(migration: Migration, names: TableNames): string | undefined {
  return migration.builds === 'items' ? names.table : migration.builds === 'runs' ? names.runsTable : names.historyTable;
}

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1]?.version ?? 0;

export function brinSql(names: TableNames, refs: TableRefs): string {
  return `CREATE INDEX IF NOT EXISTS ${quoteIdent(derivedName(names.table, '_exported_at_brin'))} ON ${refs.items} USING brin (exported_at)`;
}

/**
 * The advisory lock an export of `cluster` into this items table holds for its transaction. Keyed
 * by table and cluster: two runs of one cluster exclude each other, other clusters do not wait.
 */
export function exportLockKey(names: TableNames, cluster: string): string {
  return advisoryKey(`kollect:export:${names.schema}.${names.table}:${cluster}`);
}
