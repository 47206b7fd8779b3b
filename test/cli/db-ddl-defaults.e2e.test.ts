import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { logLines, runKollect } from '../support/cli.js';
import { dropTestDatabases, freshDatabase, withClient, writePostgresConfig } from '../support/postgres.js';
import { tempDir } from '../support/store-fixture.js';

/** `kollect db ddl` as a DBA runs it: in a folder without kollect's configuration. */

async function tables(url: string, schema: string): Promise<string[]> {
  return withClient(url, async (c) =>
    (
      await c.query<{ name: string }>("SELECT relname AS name FROM pg_class WHERE relnamespace = $1::regnamespace AND relkind IN ('r', 'p') ORDER BY 1", [
        schema,
      ])
    ).rows.map((r) => r.name),
  );
}

describe('kollect db ddl without a configuration file', () => {
  after(dropTestDatabases);

  it('GIVEN an empty folder WHEN db ddl runs there and its DDL on the server THEN db init of a default sink finds the schema up to date', async () => {
    const url = await freshDatabase();
    const folder = await tempDir('kollect-dba-');
    const ddl = await runKollect(['db', 'ddl'], { cwd: folder });
    assert.equal(ddl.code, 0, ddl.stderr);
    await withClient(url, (c) => c.query(ddl.stdout));

    assert.deepEqual(await tables(url, 'public'), ['kollect_items', 'kollect_runs', 'kollect_schema_migrations']);
    const config = await writePostgresConfig(await tempDir(), 'c1');
    const init = await runKollect(['db', 'init', '--config', config], { env: { DATABASE_URL: url } });
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /schema is up to date/);
  });

  it('GIVEN --schema and --table THEN the DDL makes those, and the runs table beside them', async () => {
    const url = await freshDatabase();
    const ddl = await runKollect(['db', 'ddl', '--schema', 'inventory', '--table', 'items', '--partition-by', 'cluster'], {
      cwd: await tempDir('kollect-dba-'),
    });
    assert.equal(ddl.code, 0, ddl.stderr);
    await withClient(url, (c) => c.query(ddl.stdout));
    assert.deepEqual(await tables(url, 'inventory'), ['items', 'items_default', 'kollect_runs', 'kollect_schema_migrations']);
  });

  const refused: Array<{ args: string[]; message: RegExp }> = [
    { args: ['--table', 'items;drop'], message: /^option '--table <name>' argument 'items;drop' is invalid\. must be a SQL identifier/ },
    { args: ['--schema', '1st'], message: /^option '--schema <name>' argument '1st' is invalid\. must be a SQL identifier/ },
    { args: ['--table', 'kollect_runs'], message: /^--table kollect_runs is already the name of the runs or changes table/ },
  ];
  for (const c of refused) {
    it(`GIVEN db ddl ${c.args.join(' ')} THEN exit 2 naming the flag, and no DDL`, async () => {
      const run = await runKollect(['db', 'ddl', ...c.args], { cwd: await tempDir('kollect-dba-') });
      assert.equal(run.code, 2, run.stderr);
      const error = logLines(run).at(-1) as { code: string; message: string };
      assert.equal(error.code, 'USAGE');
      assert.match(error.message, c.message);
      assert.equal(run.stdout, '');
    });
  }
});
