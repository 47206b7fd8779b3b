import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { logLines, runKollect } from '../support/cli.js';
import {
  dropTestDatabases,
  exportWithCli,
  freshDatabase,
  ITEMS_TABLE,
  sinkResult,
  storedRows,
  expectedRows,
  withClient,
  writePostgresConfig,
} from '../support/postgres.js';
import { syntheticStore, tempDir } from '../support/store-fixture.js';

/** The changes table as a DBA meets it: `db ddl` (with or without a config file), `db init` upgrades, `db prune-history`. */

function db(url: string, args: string[], cwd?: string) {
  return runKollect(['db', ...args], { env: { DATABASE_URL: url }, ...(cwd === undefined ? {} : { cwd }) });
}

const CHANGES = '"public"."kollect_changes"';

async function count(url: string, sql: string): Promise<number> {
  return withClient(url, async (c) => Number((await c.query<{ n: string }>(`SELECT count(*) AS n FROM (${sql}) AS x`)).rows[0]!.n));
}

/** This month and its neighbours, as `--history-months` takes them. */
function monthsAroundNow(): string {
  const now = new Date();
  const at = (offset: number) => new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() + offset, 1)).toISOString().slice(0, 7);
  return `${at(-1)}..${at(1)}`;
}

/** The tables and migration rows kollect's schema version 2 (before history) created, as they stand in databases today. */
const SCHEMA_VERSION_2 = `
CREATE TABLE kollect_items (
  cluster text NOT NULL, namespace text NOT NULL, name text NOT NULL, uid text NOT NULL, api_group text NOT NULL,
  api_version text NOT NULL, kind text NOT NULL, resource text NOT NULL, labels jsonb NOT NULL, attributes jsonb NOT NULL,
  checksum text NOT NULL, resource_version text NOT NULL, created_at timestamptz NULL, collected_at timestamptz NOT NULL,
  exported_at timestamptz NOT NULL, PRIMARY KEY (cluster, namespace, name, uid));
CREATE TABLE kollect_runs (
  id bigserial PRIMARY KEY, cluster text NOT NULL, sink text NOT NULL, started_at timestamptz NOT NULL, finished_at timestamptz NOT NULL,
  rows bigint NOT NULL, inserted bigint NOT NULL, updated bigint NOT NULL, unchanged bigint NOT NULL, deleted bigint NOT NULL,
  status text NOT NULL CHECK (status IN ('succeeded', 'failed')), error text NULL);
CREATE INDEX kollect_runs_cluster_started_idx ON kollect_runs (cluster, started_at);
CREATE TABLE kollect_schema_migrations (table_name text NOT NULL, version integer NOT NULL, description text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (table_name, version));
INSERT INTO kollect_schema_migrations (table_name, version, description) VALUES
  ('kollect_items', 1, 'items table, primary key (cluster, namespace, name, uid)'), ('kollect_runs', 2, 'runs table');`;

describe('kollect db: history', () => {
  after(dropTestDatabases);

  it('GIVEN no kollect.yaml in the working folder WHEN a DBA runs db ddl with --schema and --table THEN it prints those tables with the default runs and changes tables, which db init of a matching config then finds up to date; a named missing file or a bad name exits 2', async () => {
    const url = await freshDatabase();
    const empty = await tempDir();

    const ddl = await db(url, ['ddl', '--schema', 'inventory', '--table', 'items', '--history'], empty);
    const plain = await db(url, ['ddl'], empty);
    const missing = await db(url, ['ddl', '--config', 'nowhere.yaml'], empty);
    const badName = await db(url, ['ddl', '--table', 'items; drop table x'], empty);

    assert.equal(ddl.code, 0, ddl.stderr);
    assert.match(ddl.stdout, /CREATE TABLE IF NOT EXISTS "inventory"\."items" \(/);
    assert.match(ddl.stdout, /CREATE TABLE IF NOT EXISTS "inventory"\."kollect_changes" \(/);
    assert.match(ddl.stdout, /USING brin \(changed_at\)/);
    assert.equal(plain.code, 0, plain.stderr);
    assert.match(plain.stdout, /"public"\."kollect_items"/);
    assert.doesNotMatch(plain.stdout, /kollect_changes/);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /nowhere\.yaml/);
    assert.equal(badName.code, 2);
    assert.match(badName.stderr, /--table.*SQL identifier/);
    await withClient(url, (c) => c.query(ddl.stdout));
    const config = await writePostgresConfig(empty, 'c1', { schema: 'inventory', table: 'items', history: true });
    const init = await db(url, ['init', '--config', config]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /schema is up to date \(version 4\)/);
  });

  it('GIVEN the DDL of db ddl --history --partition-by month --history-months around now WHEN a cluster exports with history, twice THEN the changes land in this month’s partition; prune-history refuses the partitioned table with the advice to drop months (exit 2)', async () => {
    const url = await freshDatabase();
    const dir = await tempDir();
    const config = await writePostgresConfig(dir, 'c1', { history: true });
    const ddl = await db(url, ['ddl', '--config', config, '--history', '--partition-by', 'month', '--history-months', monthsAroundNow()]);
    assert.equal(ddl.code, 0, ddl.stderr);
    assert.match(ddl.stdout, /PARTITION BY RANGE \(changed_at\)/);
    assert.equal(ddl.stdout.match(/^CREATE TABLE IF NOT EXISTS \S+ PARTITION OF "public"\."kollect_changes" FOR VALUES FROM/gm)?.length, 3);
    await withClient(url, (c) => c.query(ddl.stdout));
    const first = await syntheticStore({ cluster: 'c1', count: 400 });
    const second = await syntheticStore({ cluster: 'c1', count: 420, changedFraction: 0.1, removedFraction: 0.05, revision: 2 });

    const runs = [await exportWithCli(url, config, first.dir), await exportWithCli(url, config, second.dir)];
    const prune = await db(url, ['prune-history', '--config', config, '--older-than', '90d']);
    const monthsWithoutPartitioning = await db(url, ['ddl', '--config', config, '--history', '--history-months', '2027-01..2027-02']);

    const result = sinkResult(runs[1]!);
    const month = new Date().toISOString().slice(0, 7).replace('-', '_');
    assert.equal(
      await count(url, `SELECT 1 FROM ${CHANGES} WHERE tableoid::regclass::text = 'kollect_changes_${month}'`),
      result.inserted + result.updated + result.deleted,
    );
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(second.rows));
    assert.equal(prune.code, 2);
    assert.equal(logLines(prune).at(-1)?.code, 'USAGE');
    assert.match(prune.stderr, /partitioned by month.*DETACH PARTITION/);
    assert.equal(monthsWithoutPartitioning.code, 2);
    assert.match(monthsWithoutPartitioning.stderr, /--history-months needs --history --partition-by month/);
  });

  it('GIVEN an unpartitioned changes table with changes older and newer than 90 days WHEN prune-history --older-than 90d runs in batches of 7 THEN exactly the old ones are deleted, in several transactions, and it says how many', async () => {
    const url = await freshDatabase();
    const dir = await tempDir();
    const config = await writePostgresConfig(dir, 'c1', { history: true });
    assert.equal((await db(url, ['init', '--config', config])).code, 0);
    for (const store of [
      await syntheticStore({ cluster: 'c1', count: 200 }),
      await syntheticStore({ cluster: 'c1', count: 200, changedFraction: 0.3, revision: 2 }),
    ]) {
      sinkResult(await exportWithCli(url, config, store.dir));
    }
    const all = await count(url, `SELECT 1 FROM ${CHANGES}`);
    await withClient(url, (c) => c.query(`UPDATE ${CHANGES} SET changed_at = now() - interval '100 days' WHERE name < 'n'`));
    const old = await count(url, `SELECT 1 FROM ${CHANGES} WHERE changed_at < now() - interval '90 days'`);

    const prune = await db(url, ['prune-history', '--config', config, '--older-than', '90d', '--batch-size', '7', '--output', 'json']);

    assert.equal(prune.code, 0, prune.stderr);
    const result = JSON.parse(prune.stdout);
    assert.ok(old > 7 && old < all, `${old} of ${all}`);
    assert.equal(result.deleted, old);
    assert.equal(result.batches, Math.floor(old / 7) + 1);
    assert.equal(await count(url, `SELECT 1 FROM ${CHANGES}`), all - old);
    assert.equal(await count(url, `SELECT 1 FROM ${CHANGES} WHERE changed_at < now() - interval '90 days'`), 0);
  });

  it('GIVEN a database at schema version 2 (before history) WHEN this kollect exports without history, db init runs for a sink with history, then exports run with and without history THEN every export works, db init applies 3 and 4 keeping the rows, and the first export with history is the baseline', async () => {
    const url = await freshDatabase();
    const dir = await tempDir();
    const without = await writePostgresConfig(dir, 'c1');
    const withHistory = await writePostgresConfig(dir, 'c1', { history: true });
    await withClient(url, (c) => c.query(SCHEMA_VERSION_2));
    const stores = [
      await syntheticStore({ cluster: 'c1', count: 300 }),
      await syntheticStore({ cluster: 'c1', count: 300, changedFraction: 0.1, revision: 2 }),
      await syntheticStore({ cluster: 'c1', count: 300, changedFraction: 0.1, revision: 3 }),
      await syntheticStore({ cluster: 'c1', count: 300, changedFraction: 0.1, revision: 4 }),
    ];

    const onOldSchema = await exportWithCli(url, without, stores[0]!.dir);
    const init = await db(url, ['init', '--config', withHistory]);
    const baseline = await exportWithCli(url, withHistory, stores[1]!.dir);
    const recorded = await exportWithCli(url, withHistory, stores[2]!.dir);
    const olderExporter = await exportWithCli(url, without, stores[3]!.dir);

    sinkResult(onOldSchema);
    assert.equal(init.code, 0, init.stderr);
    assert.match(
      init.stdout,
      /applied migration 3: runs\.baseline.*\(public\.kollect_runs\)\n.*applied migration 4: changes table.*\(public\.kollect_changes\)/,
    );
    assert.doesNotMatch(init.stdout, /migration [12]:/);
    const changed = sinkResult(recorded);
    sinkResult(baseline);
    sinkResult(olderExporter);
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(stores[3]!.rows));
    const runs = await withClient(url, async (c) => (await c.query('SELECT baseline, rows::int FROM kollect_runs ORDER BY id')).rows);
    assert.deepEqual(runs, [
      { baseline: false, rows: 300 },
      { baseline: true, rows: 300 },
      { baseline: false, rows: 300 },
      { baseline: false, rows: 300 },
    ]);
    assert.equal(await count(url, `SELECT 1 FROM ${CHANGES}`), changed.updated);
    assert.ok(changed.updated > 0);
  });
});
