import type pg from 'pg';
import { setLocalStatementTimeout } from './connection.js';
import { brinSql, builtTable, MIGRATIONS, migrationsTableSql, SCHEMA_VERSION, tableRefs, type TableNames } from './schema.js';
import { advisoryKey, derivedName } from './sql-names.js';

/** `kollect db init`: the versioned additive migrations of schema.ts, applied in one transaction. */

/** What `db init` did. */
export interface InitResult {
  schema: string;
  table: string;
  runsTable: string;
  /** The changes table, when the sink records history. */
  historyTable?: string;
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
    ...(names.historyTable === undefined ? {} : { historyTable: names.historyTable }),
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
    const done = await client.query<{ table_name: string; version: number }>(`SELECT table_name, version FROM ${refs.migrations} WHERE table_name = ANY ($1)`, [
      [names.table, names.runsTable, names.historyTable ?? names.table],
    ]);
    const applied = new Set(done.rows.map((r) => `${r.table_name}/${r.version}`));
    for (const migration of MIGRATIONS) {
      const table = builtTable(migration, names);
      // A sink without history has no changes table to build; `db init` builds it once history is on.
      if (table === undefined || applied.has(`${table}/${migration.version}`)) continue;
      for (const statement of migration.statements(names, refs)) await client.query(statement);
      await client.query(`INSERT INTO ${refs.migrations} (table_name, version, description) VALUES ($1, $2, $3)`, [
        table,
        migration.version,
        migration.description,
      ]);
      result.applied.push({ version: migration.version, description: migration.description, table: `${names.schema}.${table}` });
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
