import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { logLines, runKollect } from '../support/cli.js';
import {
  dropTestDatabases,
  expectedRows,
  exportWithCli,
  freshDatabase,
  ITEMS_TABLE,
  sinkResult,
  storedRows,
  withClient,
  writePostgresConfig,
} from '../support/postgres.js';
import { syntheticStore, tempDir } from '../support/store-fixture.js';

/** `kollect db init` and `kollect db ddl` as a DBA runs them, against a real server. */

function db(url: string, args: string[]) {
  return runKollect(['db', ...args], { env: { DATABASE_URL: url } });
}

async function relations(url: string): Promise<string[]> {
  return withClient(url, async (c) =>
    (await c.query<{ name: string }>("SELECT relname AS name FROM pg_class WHERE relnamespace = 'public'::regnamespace ORDER BY 1")).rows.map((r) => r.name),
  );
}

const clusterStore = (cluster: string, count: number, extra: { changedFraction?: number; removedFraction?: number; revision?: number } = {}) =>
  syntheticStore({ cluster, count, ...extra });

describe('kollect db', () => {
  after(dropTestDatabases);

  it('GIVEN an empty database WHEN db init runs twice, then with --brin twice THEN the second run says up to date, the BRIN index comes once, and no row is lost', async () => {
    const url = await freshDatabase();
    const dir = await tempDir();
    const config = await writePostgresConfig(dir, 'c1');

    const first = await db(url, ['init', '--config', config]);
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /applied migration 1: items table.*\(public\.kollect_items\)/);
    assert.match(first.stdout, /applied migration 2: runs table \(public\.kollect_runs\)/);
    assert.match(first.stdout, /applied migration 3: runs\.baseline.*\(public\.kollect_runs\)/);
    assert.doesNotMatch(first.stdout, /migration 4/);
    const store = await clusterStore('c1', 500);
    assert.equal((await exportWithCli(url, config, store.dir)).code, 0);

    const second = await db(url, ['init', '--config', config]);
    const brin = await db(url, ['init', '--config', config, '--brin']);
    const brinAgain = await db(url, ['init', '--config', config, '--brin', '--output', 'json']);

    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /schema is up to date \(version 4\); nothing to do/);
    assert.match(brin.stdout, /created BRIN index on exported_at/);
    assert.equal(brinAgain.code, 0, brinAgain.stderr);
    assert.deepEqual(JSON.parse(brinAgain.stdout), {
      sink: 'fleet-db',
      schema: 'public',
      table: 'kollect_items',
      runsTable: 'kollect_runs',
      createdSchema: false,
      applied: [],
      version: 4,
      brin: 'exists',
    });
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'c1'), expectedRows(store.rows));
    assert.ok((await relations(url)).includes('kollect_items_exported_at_brin'));
  });

  it('GIVEN a sink pointed at a new runs table WHEN db init runs THEN only that table is built', async () => {
    const url = await freshDatabase();
    const dir = await tempDir();
    await db(url, ['init', '--config', await writePostgresConfig(dir, 'c1')]);

    const moved = await db(url, ['init', '--config', await writePostgresConfig(dir, 'c1', { runsTable: 'kollect_runs_v2' })]);

    assert.equal(moved.code, 0, moved.stderr);
    assert.match(moved.stdout, /applied migration 2: runs table \(public\.kollect_runs_v2\)/);
    assert.doesNotMatch(moved.stdout, /migration 1/);
    assert.ok((await relations(url)).includes('kollect_runs_v2'));
  });

  it('GIVEN the DDL of db ddl --partition-by cluster run on the server WHEN two clusters export, then change THEN rows land in their partitions, exact, and db init has nothing to do', async () => {
    const url = await freshDatabase();
    const dir = await tempDir();
    const configA = await writePostgresConfig(dir, 'cluster-a');
    const configB = await writePostgresConfig(dir, 'cluster-b');
    const ddl = await db(url, ['ddl', '--config', configA, '--partition-by', 'cluster', '--brin']);
    assert.equal(ddl.code, 0, ddl.stderr);
    assert.match(ddl.stdout, /PARTITION BY LIST \(cluster\)/);
    assert.match(ddl.stdout, /would become \(cluster, namespace, name, uid, exported_at\)/);

    // As a DBA would: the whole script, one simple-query round trip (BEGIN ... COMMIT inside).
    await withClient(url, (c) => c.query(ddl.stdout));
    const init = await db(url, ['init', '--config', configA, '--brin']);
    const a = await clusterStore('cluster-a', 1_200);
    const b = await clusterStore('cluster-b', 800);
    const firstA = await exportWithCli(url, configA, a.dir);
    const firstB = await exportWithCli(url, configB, b.dir);
    const a2 = await clusterStore('cluster-a', 1_200, { changedFraction: 0.1, removedFraction: 0.05, revision: 2 });
    const secondA = await exportWithCli(url, configA, a2.dir);

    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /schema is up to date/);
    assert.match(init.stdout, /BRIN index on exported_at already exists/);
    for (const run of [firstA, firstB, secondA]) assert.equal(run.code, 0, run.stderr);
    const second = sinkResult(secondA);
    assert.ok(second.updated > 0 && second.deleted > 0 && second.inserted === 0, JSON.stringify(second));
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'cluster-a'), expectedRows(a2.rows));
    assert.deepEqual(await storedRows(url, ITEMS_TABLE, 'cluster-b'), expectedRows(b.rows));
    const partitions = await withClient(url, async (c) =>
      Object.fromEntries(
        (
          await c.query<{ partition: string; n: number }>('SELECT tableoid::regclass::text AS partition, count(*)::int AS n FROM kollect_items GROUP BY 1')
        ).rows.map((r) => [r.partition, r.n]),
      ),
    );
    assert.deepEqual(partitions, { kollect_items_c_cluster_a: a2.rows.length, kollect_items_default: b.rows.length });
  });

  it('GIVEN db ddl without partitioning WHEN run on the server THEN db init finds it up to date; --partition-by month is refused with the reason (exit 2)', async () => {
    const url = await freshDatabase();
    const config = await writePostgresConfig(await tempDir(), 'c1');

    const ddl = await db(url, ['ddl', '--config', config]);
    await withClient(url, (c) => c.query(ddl.stdout));
    const init = await db(url, ['init', '--config', config]);
    const month = await db(url, ['ddl', '--config', config, '--partition-by', 'month']);

    assert.doesNotMatch(ddl.stdout, /PARTITION BY/);
    assert.match(ddl.stdout, /not partitioned by month/);
    assert.match(init.stdout, /schema is up to date/);
    assert.equal(month.code, 2);
    assert.match(month.stderr, /--partition-by month would break the upsert key/);
    assert.equal(month.stdout, '');
  });

  it('GIVEN several sinks WHEN db ddl picks one THEN --sink names it; without --sink two postgres sinks are refused, and so is a file sink (exit 2, USAGE)', async () => {
    const dir = await tempDir();
    const config = join(dir, 'kollect.yaml');
    const postgres = (name: string, table: string) => ({ name, type: 'postgres', url: { env: 'DATABASE_URL' }, ssl: { mode: 'disable' }, table });
    await writeFile(
      config,
      JSON.stringify({
        cluster: 'c1',
        sinks: [postgres('fleet-a', 'items_a'), postgres('fleet-b', 'items_b'), { name: 'files', type: 'file', dir: join(dir, 'out') }],
      }),
    );
    const url = 'postgres://unused@127.0.0.1:1/unused';

    const chosen = await db(url, ['ddl', '--config', config, '--sink', 'fleet-b']);
    assert.equal(chosen.code, 0, chosen.stderr);
    assert.match(chosen.stdout, /"public"\."items_b"/);
    assert.doesNotMatch(chosen.stdout, /items_a/);

    const refusals: Array<[string[], RegExp]> = [
      [[], /several postgres sinks \(fleet-a, fleet-b\); choose one with --sink NAME/],
      [['--sink', 'files'], /sink "files" is of type file, not postgres/],
    ];
    for (const [args, message] of refusals) {
      const run = await db(url, ['ddl', '--config', config, ...args]);
      assert.equal(run.code, 2, args.join(' '));
      const error = logLines(run).at(-1);
      assert.equal(error?.code, 'USAGE');
      assert.match(String(error?.message), message);
    }
  });

  it('GIVEN a table name "items; drop table x" WHEN config validate, db init and export run THEN each exits 2 naming sinks[0].table and the database is untouched', async () => {
    const url = await freshDatabase();
    const dir = await tempDir();
    const config = join(dir, 'bad.yaml');
    await writeFile(
      config,
      ['cluster: c1', 'sinks:', '  - { name: fleet-db, type: postgres, table: "items; drop table x", ssl: { mode: disable } }', ''].join('\n'),
    );
    const store = await clusterStore('c1', 50);

    const runs = [await runKollect(['config', 'validate', config]), await db(url, ['init', '--config', config]), await exportWithCli(url, config, store.dir)];

    for (const run of runs) {
      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /sinks\[0\]\.table: must be a SQL identifier/);
    }
    assert.deepEqual(await relations(url), []);
  });
});
