import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { logLines, runKollect, type CliResult } from '../support/cli.js';
import { ExportedCluster } from '../support/history.js';
import { dropTestDatabases, freshDatabase, withClient, writePostgresConfig } from '../support/postgres.js';
import { tempDir } from '../support/store-fixture.js';

/** `kollect changes` as an operator runs it: with the cluster's config file, or with only DATABASE_URL. */

const HOSTILE = 'evil\n\u001b[31mred"';
const pod = (namespace: string, name: string, image: string) => ({ namespace, name, labels: { app: 'web' }, attributes: { images: [image] } });

let url = '';
let config = '';
/** A folder with no kollect.yaml in it. */
let bare = '';
/** Times after c1's baseline and after its first changing export. */
let afterBaseline = '';
let afterFirst = '';
/** The time c1's second changing export recorded. */
let secondChange = '';

function changes(args: string[], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runKollect(['changes', ...args], { cwd: bare, env: { DATABASE_URL: url, ...env } });
}

function ok(run: CliResult): string {
  assert.equal(run.code, 0, run.stderr);
  return run.stdout;
}

describe('kollect changes (processes)', () => {
  before(async () => {
    url = await freshDatabase();
    bare = await tempDir();
    config = await writePostgresConfig(bare, 'c1', { history: true });
    ok(await runKollect(['db', 'init', '--config', config], { env: { DATABASE_URL: url } }));
    const c1 = new ExportedCluster(url, 'c1');
    const c2 = new ExportedCluster(url, 'c2');
    afterBaseline = (await c1.export({ put: [pod('shop', 'web-1', 'nginx:1.25'), pod('shop', 'db-1', 'postgres:16')] })).toISOString();
    await c2.export();
    afterFirst = (
      await c1.export({ put: [pod('shop', 'web-2', 'nginx:1.25'), pod('shop', 'web-1', 'nginx:1.26'), pod('shop', HOSTILE, 'x:1')] })
    ).toISOString();
    await c2.export({ put: [pod('shop', 'api-1', 'api:1')] });
    await c1.export({ put: [pod('shop', 'web-1', 'nginx:1.27')], remove: [{ namespace: 'shop', name: 'db-1' }] });
    secondChange = await withClient(url, async (c) =>
      (await c.query<{ t: Date }>("SELECT max(changed_at) AS t FROM kollect_changes WHERE cluster = 'c1'")).rows[0]!.t.toISOString(),
    );
  });
  after(dropTestDatabases);

  it('GIVEN a config file WHEN changes --output json runs THEN it prints the changes of the filter, newest first, in the documented shape', async () => {
    const run = await changes(['--config', config, '--since', afterFirst, '--cluster', 'c1', '--output', 'json']);

    const result = JSON.parse(ok(run));
    assert.deepEqual(Object.keys(result), ['table', 'since', 'until', 'limit', 'truncated', 'changes']);
    assert.deepEqual([result.table, result.since, result.until, result.limit, result.truncated], ['public.kollect_changes', afterFirst, null, 500, false]);
    assert.deepEqual(result.changes[1], {
      changedAt: secondChange,
      cluster: 'c1',
      namespace: 'shop',
      kind: 'Pod',
      apiGroup: '',
      apiVersion: 'v1',
      resource: 'pods',
      name: 'web-1',
      uid: 'uid-web-1',
      operation: 'update',
      runId: result.changes[1].runId,
      before: { checksum: result.changes[1].before.checksum, labels: { app: 'web' }, attributes: { images: ['nginx:1.26'] } },
      after: { checksum: result.changes[1].after.checksum, labels: { app: 'web' }, attributes: { images: ['nginx:1.27'] } },
      changedFields: ['attributes.images'],
    });
    assert.deepEqual(
      result.changes.map((c: { name: string; operation: string; after: unknown }) => [c.name, c.operation, c.after]),
      [
        ['db-1', 'delete', null],
        ['web-1', 'update', result.changes[1].after],
      ],
    );
  });

  it('GIVEN no config file, only DATABASE_URL WHEN changes runs with filters THEN it reads the default tables and prints a table, cut at --limit with a note', async () => {
    const all = await changes(['--since', afterBaseline, '--until', afterFirst, '--namespace', 'shop']);
    const cut = await changes(['--since', afterBaseline, '--cluster', 'c1', '--kind', 'pods', '--limit', '1']);

    const lines = ok(all).split('\n');
    assert.match(lines[0]!, /^TIME\s+CLUSTER\s+NAMESPACE\s+KIND\s+NAME\s+OPERATION\s+CHANGED$/);
    assert.deepEqual(
      lines.slice(1, -2).map((l) => l.split(/\s+/).slice(1, 6).join(' ')),
      ['c1 shop Pod "evil\\n\\u001b[31mred\\"" insert', 'c1 shop Pod web-1 update', 'c1 shop Pod web-2 insert'],
    );
    assert.match(lines[1]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z /);
    assert.match(lines[2]!, /update\s+attributes\.images$/);
    assert.equal(lines.at(-2), `3 changes since ${afterBaseline}, until ${afterFirst}, newest first`);
    assert.match(
      ok(cut),
      new RegExp(`^1 change since ${afterBaseline.replaceAll('.', '\\.')}, newest first; more match: narrow the filters or raise --limit \\(now 1\\)$`, 'm'),
    );
    assert.ok(!all.stdout.includes(String.fromCharCode(0x1b)), 'no raw escape character reaches the terminal');
  });

  it('GIVEN a namespace that changed twice after a time WHEN changes --as-of that time runs with the config file THEN it prints the namespace as it was then', async () => {
    const run = await changes(['--config', config, '--as-of', afterBaseline, '--namespace', 'shop']);
    const json = await changes(['--as-of', afterFirst.replace('Z', '+00:00'), '--namespace', 'shop', '--cluster', 'c1', '-o', 'json']);

    const lines = ok(run).split('\n');
    assert.match(lines[0]!, new RegExp(`^namespace shop of cluster c1 as of ${afterBaseline.replaceAll('.', '\\.')} \\(history from .+Z\\): 2 objects$`));
    assert.deepEqual(
      lines.slice(2, -1).map((l) => l.split(/\s+/).join(' ')),
      ['Pod db-1 2026-01-01T00:00:00.000Z deleted', 'Pod web-1 2026-01-01T00:00:00.000Z updated'],
    );
    const objects = JSON.parse(ok(json)).objects as Array<{ name: string; since: string; attributes: { images: string[] } }>;
    assert.deepEqual(
      objects.map((o) => [o.name, o.since, o.attributes.images[0]]),
      [
        ['db-1', 'deleted', 'postgres:16'],
        [HOSTILE, 'unchanged', 'x:1'],
        ['web-1', 'updated', 'nginx:1.26'],
        ['web-2', 'unchanged', 'nginx:1.25'],
      ],
    );
  });

  // [case, arguments, environment, exit code, error code, message]
  const refusals: Array<[string, string[], NodeJS.ProcessEnv, number, string, RegExp]> = [
    ['a --since that is no time', ['--since', 'yesterday'], {}, 2, 'USAGE', /option '--since <time>' argument 'yesterday' is invalid/],
    ['a day that does not exist', ['--until', '2026-02-30T00:00:00Z'], {}, 2, 'USAGE', /'--until <time>'.*RFC 3339/],
    ['--as-of without --namespace', ['--as-of', '1h', '--cluster', 'c1'], {}, 2, 'USAGE', /--as-of needs --namespace/],
    [
      '--as-of with --since',
      ['--as-of', '1h', '--since', '2h', '--namespace', 'shop'],
      {},
      2,
      'USAGE',
      /'--as-of <time>' cannot be used with option '--since <time>'/,
    ],
    ['--as-of without a cluster', ['--as-of', '1h', '--namespace', 'shop'], {}, 2, 'USAGE', /--as-of needs --cluster/],
    [
      '--as-of before the history starts',
      ['--as-of', '2026-11-30T00:00:00Z', '--namespace', 'shop', '--cluster', 'c1'],
      {},
      1,
      'HISTORY_UNAVAILABLE',
      /its history starts at 20\d\d-/,
    ],
    [
      'no config file and no DATABASE_URL',
      [],
      { DATABASE_URL: undefined },
      2,
      'USAGE',
      /no configuration file \(kollect\.yaml here, or --config FILE\) and DATABASE_URL is not set/,
    ],
    ['a --history-table that is no identifier', ['--history-table', 'x;drop'], {}, 2, 'USAGE', /'--history-table <name>' argument 'x;drop' is invalid/],
    [
      'a history table that does not exist',
      ['--history-table', 'kollect_history'],
      {},
      1,
      'HISTORY_UNAVAILABLE',
      /no history table public\.kollect_history: history was never enabled.*"history: true"/,
    ],
  ];
  for (const [name, args, env, exitCode, code, message] of refusals) {
    it(`GIVEN ${name} WHEN changes runs THEN it exits ${exitCode} with ${code} and a message that says what to do`, async () => {
      const run = await changes(args, env);

      assert.equal(run.code, exitCode, run.stderr);
      const errors = logLines(run).filter((line) => line.level === 'error');
      assert.deepEqual(
        errors.map((e) => e.code),
        [code],
      );
      assert.match(String(errors[0]?.message), message);
      assert.equal(run.stdout, '');
    });
  }
});
