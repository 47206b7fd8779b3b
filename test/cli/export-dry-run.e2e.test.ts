import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { lstat, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { RunResult } from '../../src/run.js';
import { rowChecksum } from '../../src/rows/project.js';
import { shardKeyOf, type Row } from '../../src/rows/row.js';
import type { ChangeCounts, SinkPlan } from '../../src/sinks/sink.js';
import { runKollect, type CliResult } from '../support/cli.js';
import { git, startGitServer, type GitServer } from '../support/git-server.js';
import { dropTestDatabases, ITEMS_TABLE, startPostgres, tableSnapshot, withClient } from '../support/postgres.js';
import { buildStore, syntheticRows, tempDir } from '../support/store-fixture.js';

/**
 * `kollect export --dry-run` against sinks that already hold an export: the plan it prints is
 * what the real export then does, count for count, and the dry run leaves every sink exactly as
 * it was (table rows and their tuples, the remote's refs and objects, the Git mirror, the file
 * sink's folder: contents, modes and mtimes).
 */

const CLUSTER = 'dry-e2e';
/** 13 namespaces: syntheticRows picks the type by i % 4, so a count divisible by 4 leaves namespaces empty. */
const NAMESPACES = 13;
const GONE = 'ns-005';
const NEW = 'ns-new';

/** `count` namespaced rows in `namespace`, with identities no other row has. */
function* newNamespaceRows(count: number): Generator<Row> {
  let n = 0;
  for (const row of syntheticRows({ cluster: CLUSTER, count: count * 2 })) {
    if (row.namespace === '' || n++ >= count) continue;
    const moved: Row = { ...row, namespace: NEW, name: `new-${row.name}`, uid: `new-${row.uid}`, checksum: '' };
    moved.checksum = rowChecksum(moved);
    yield moved;
  }
}

/** Store A: 5,000 rows. Store B: ~5% changed, ~1% removed, namespace GONE gone, namespace NEW new. */
function storeRows(version: 'a' | 'b' | 'c'): Row[] {
  if (version === 'a') return [...syntheticRows({ cluster: CLUSTER, count: 5000, namespaces: NAMESPACES })];
  const revision = version === 'b' ? 2 : 3;
  const rows = [...syntheticRows({ cluster: CLUSTER, count: 5000, namespaces: NAMESPACES, changedFraction: 0.05, removedFraction: 0.01, revision })];
  return [...rows.filter((r) => r.namespace !== GONE), ...newNamespaceRows(150)];
}

const key = (r: Row): string => `${r.namespace}/${r.name}/${r.uid}`;

/** What the database must do to go from rows `a` to rows `b`, per shard (computed here, not by kollect). */
function expectedRowChanges(a: Row[], b: Row[]): Map<string, ChangeCounts> {
  const before = new Map(a.map((r) => [key(r), r.checksum]));
  const out = new Map<string, ChangeCounts>();
  const counts = (shard: string): ChangeCounts => {
    let c = out.get(shard);
    if (!c) out.set(shard, (c = { added: 0, changed: 0, unchanged: 0, removed: 0 }));
    return c;
  };
  for (const r of b) {
    const old = before.get(key(r));
    const c = counts(shardKeyOf(r.namespace));
    if (old === undefined) c.added++;
    else if (old === r.checksum) c.unchanged++;
    else c.changed++;
    before.delete(key(r));
  }
  for (const r of a) if (before.has(key(r))) counts(shardKeyOf(r.namespace)).removed++;
  return out;
}

type FileAction = keyof ChangeCounts;

/** What a file-per-shard sink must do to each shard's file (computed here, not by kollect). */
function expectedFileChanges(a: Row[], b: Row[]): Map<string, FileAction> {
  const rows = expectedRowChanges(a, b);
  const inA = new Set(a.map((r) => shardKeyOf(r.namespace)));
  const inB = new Set(b.map((r) => shardKeyOf(r.namespace)));
  const out = new Map<string, FileAction>();
  for (const [shard, c] of rows) {
    out.set(shard, !inA.has(shard) ? 'added' : !inB.has(shard) ? 'removed' : c.added + c.changed + c.removed > 0 ? 'changed' : 'unchanged');
  }
  return out;
}

/** A file sink's per-shard plan as shard -> the one action counted for it. */
function fileActions(plan: SinkPlan): Map<string, FileAction> {
  return new Map(
    plan.shards.map((s) => {
      const actions = (Object.keys(s.counts) as FileAction[]).filter((k) => s.counts[k] > 0);
      assert.equal(actions.length, 1, `shard ${s.shard} of ${plan.sink} counts ${JSON.stringify(s.counts)}`);
      return [s.shard, actions[0]!];
    }),
  );
}

function parseResult(run: CliResult): RunResult {
  assert.equal(run.code, 0, `exit ${run.code}\n${run.stderr}`);
  return JSON.parse(run.stdout) as RunResult;
}

function sinkOf(run: RunResult, sink: string): SinkPlan {
  const outcome = run.sinks.find((s) => s.sink === sink);
  assert.ok(outcome?.ok, `sink ${sink}: ${outcome && !outcome.ok ? outcome.error.message : 'missing'}`);
  return outcome.result;
}

/** Only what a plan and a result share: totals, shards (with paths) and the skip reason. */
function comparable(plan: SinkPlan): unknown {
  return { totals: plan.totals, shards: plan.shards.map((s) => ({ shard: s.shard, path: s.path, counts: s.counts })), skipped: plan.skipped?.reason ?? null };
}

/** Every entry under `root`: type, path, mode, size, mtime, inode and a digest of file contents. */
async function folderState(root: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (path: string): Promise<void> => {
    const info = await lstat(path);
    const rel = relative(root, path) || '.';
    if (info.isDirectory()) {
      out.push(`dir ${rel} mode=${info.mode} mtime=${info.mtimeMs} ino=${info.ino}`);
      for (const name of (await readdir(path)).sort()) await visit(join(path, name));
    } else {
      const digest = info.isFile()
        ? createHash('sha256')
            .update(await readFile(path))
            .digest('hex')
        : 'not-a-file';
      out.push(`file ${rel} mode=${info.mode} size=${info.size} mtime=${info.mtimeMs} ino=${info.ino} sha256=${digest}`);
    }
  };
  await visit(root);
  return out;
}

interface SinkState {
  rows: string[];
  runs: number;
  physical: string;
  remoteRefs: string;
  bareRefs: string;
  bareObjects: string;
  mirror: string[];
  files: string[];
}

interface Setup {
  dir: string;
  config: string;
  env: NodeJS.ProcessEnv;
  databaseUrl: string;
  server: GitServer;
  mirrorDir: string;
  filesDir: string;
  rows: { a: Row[]; b: Row[]; c: Row[] };
  stores: { a: string; b: string; c: string };
}

async function sinkState(s: Setup): Promise<SinkState> {
  const table = await withClient(s.databaseUrl, async (client) => {
    const rows = await client.query<{ line: string }>(
      `SELECT concat_ws(' ', cluster, namespace, name, uid, checksum, exported_at::text) AS line FROM ${ITEMS_TABLE} ORDER BY cluster, namespace, name, uid`,
    );
    const runs = await client.query<{ n: number }>('SELECT count(*)::int AS n FROM "public"."kollect_runs"');
    return { rows: rows.rows.map((r) => r.line), runs: runs.rows[0]?.n ?? -1 };
  });
  return {
    ...table,
    physical: (await tableSnapshot(s.databaseUrl, ITEMS_TABLE)).physical,
    remoteRefs: await git(['ls-remote', s.server.url]),
    bareRefs: await s.server.git(['for-each-ref', '--format=%(refname) %(objectname)']),
    bareObjects: await s.server.git(['count-objects', '-v']),
    mirror: await folderState(s.mirrorDir),
    files: await folderState(s.filesDir),
  };
}

function kollect(s: Setup, args: string[]): Promise<CliResult> {
  return runKollect([...args, '-c', s.config], { env: s.env });
}

/** The lines of one per-shard section of the text summary, from its heading to the next blank line. */
function section(text: string, heading: string): string[] {
  const lines = text.split('\n');
  const start = lines.findIndex((l) => l.startsWith(heading));
  assert.ok(start >= 0, `no section "${heading}" in:\n${text}`);
  const end = lines.findIndex((l, i) => i > start && l.trim() === '');
  return lines.slice(start + 1, end < 0 ? undefined : end);
}

const num = (n: number): string => n.toLocaleString('en-US');

describe('kollect export --dry-run against populated sinks', () => {
  let s: Setup;

  before(async () => {
    const dir = await tempDir('kollect-dry-run-e2e-');
    const databaseUrl = await (await startPostgres()).createDatabase();
    const server = await startGitServer();
    const mirrorDir = join(dir, 'mirror');
    const filesDir = join(dir, 'files');
    const config = join(dir, 'kollect.yaml');
    await writeFile(
      config,
      [
        `cluster: ${CLUSTER}`,
        'sinks:',
        `  - { name: files, type: file, dir: ${JSON.stringify(filesDir)} }`,
        '  - { name: fleet-db, type: postgres, url: { env: DATABASE_URL }, ssl: { mode: disable } }',
        `  - { name: audit, type: git, url: ${JSON.stringify(server.url)}, mirrorDir: ${JSON.stringify(mirrorDir)}, exportMinInterval: 1h }`,
      ].join('\n'),
    );
    const rows = { a: storeRows('a'), b: storeRows('b'), c: storeRows('c') };
    const stores = { a: join(dir, 'store-a'), b: join(dir, 'store-b'), c: join(dir, 'store-c') };
    for (const v of ['a', 'b', 'c'] as const) await buildStore(stores[v], CLUSTER, rows[v]);
    s = { dir, config, env: { DATABASE_URL: databaseUrl }, databaseUrl, server, mirrorDir, filesDir, rows, stores };

    // Every sink holds store A.
    assert.equal((await kollect(s, ['db', 'init'])).code, 0);
    const first = parseResult(await kollect(s, ['export', '--from', stores.a, '--output', 'json']));
    assert.equal(sinkOf(first, 'fleet-db').totals.added, rows.a.length);
  });

  after(async () => {
    await s?.server.close();
    await dropTestDatabases();
    if (s) await rm(s.dir, { recursive: true, force: true });
  });

  it('prints the plan the real export then carries out, and writes nothing', async () => {
    // GIVEN sinks holding store A, and store B with changed, removed and moved rows
    const before = await sinkState(s);
    s.server.resetRequests();

    // WHEN planning B, as JSON and as text
    const plan = parseResult(await kollect(s, ['export', '--from', s.stores.b, '--dry-run', '--force', '--output', 'json']));
    const textRun = await kollect(s, ['export', '--from', s.stores.b, '--dry-run', '--force']);

    // THEN nothing was written anywhere, and the remote was not even asked
    assert.equal(s.server.requests, 0, `dry runs sent requests: ${s.server.requestLog.join(', ')}`);
    assert.deepEqual(await sinkState(s), before);

    // and the plan is what store B means for each sink, computed independently
    assert.equal(plan.dryRun, true);
    const expectedRows = expectedRowChanges(s.rows.a, s.rows.b);
    const db = sinkOf(plan, 'fleet-db');
    assert.deepEqual(new Map(db.shards.map((x) => [x.shard, x.counts])), expectedRows);
    assert.ok(db.totals.added > 0 && db.totals.changed > 0 && db.totals.removed > 0 && db.totals.unchanged > 0, JSON.stringify(db.totals));
    const expectedFiles = expectedFileChanges(s.rows.a, s.rows.b);
    assert.equal(expectedFiles.get(GONE), 'removed');
    assert.equal(expectedFiles.get(NEW), 'added');
    for (const name of ['files', 'audit']) {
      const files = sinkOf(plan, name);
      assert.equal(files.skipped, undefined, `${name} skipped: ${files.skipped?.message}`);
      assert.deepEqual(fileActions(files), expectedFiles, name);
    }

    // and the text shows each sink's plan per shard
    assert.equal(textRun.code, 0, textRun.stderr);
    const text = textRun.stdout;
    assert.match(text, /Dry run: nothing was written to any sink\./);
    for (const outcome of plan.sinks) assert.match(text, new RegExp(`^${outcome.sink}\\s+${outcome.type}\\s+planned\\s`, 'm'));
    const dbLines = section(text, 'fleet-db (postgres)');
    assert.match(dbLines[0] ?? '', /^SHARD\s+INSERT\s+UPDATE\s+UNCHANGED\s+DELETE$/);
    for (const x of db.shards.filter((y) => y.counts.added + y.counts.changed + y.counts.removed > 0)) {
      const c = x.counts;
      const line = new RegExp(`^${x.shard}\\s+${num(c.added)}\\s+${num(c.changed)}\\s+${num(c.unchanged)}\\s+${num(c.removed)}$`);
      assert.ok(
        dbLines.some((l) => line.test(l)),
        `no line ${line} in:\n${dbLines.join('\n')}`,
      );
    }
    for (const [name, type] of [
      ['files', 'file'],
      ['audit', 'git'],
    ] as const) {
      const lines = section(text, `${name} (${type})`);
      for (const x of sinkOf(plan, name).shards) {
        const action = fileActions({ ...sinkOf(plan, name), shards: [x] }).get(x.shard);
        if (action === 'unchanged') continue;
        const word = { added: 'add', changed: 'change', removed: 'remove' }[action!];
        assert.ok(
          lines.some((l) => new RegExp(`^${x.shard}\\s+${word}\\s+${x.path}$`).test(l)),
          `${name}: no "${x.shard} ${word} ${x.path}" in:\n${lines.join('\n')}`,
        );
      }
    }

    // WHEN exporting B for real
    const real = parseResult(await kollect(s, ['export', '--from', s.stores.b, '--force', '--output', 'json']));

    // THEN every sink did exactly what the plan said, shard for shard
    assert.equal(real.ok, true);
    for (const outcome of plan.sinks) {
      assert.deepEqual(comparable(sinkOf(real, outcome.sink)), comparable(sinkOf(plan, outcome.sink)), `sink ${outcome.sink}: plan and result differ`);
    }
    // and it did write: the same snapshots now differ, in every sink
    const afterwards = await sinkState(s);
    for (const part of ['rows', 'runs', 'physical', 'remoteRefs', 'mirror', 'files'] as const) {
      assert.notDeepEqual(afterwards[part], before[part], `${part} unchanged by the real export`);
    }
    assert.equal(afterwards.rows.length, s.rows.b.length);
  });

  it('says that a git sink inside its exportMinInterval would be skipped, and plans its files with --force', async () => {
    // GIVEN the git sink exported B moments ago (exportMinInterval 1h), and a changed store C
    const current = parseResult(await kollect(s, ['export', '--from', s.stores.b, '--force', '--output', 'json']));
    assert.equal(current.ok, true);
    const mirrorBefore = await folderState(s.mirrorDir);
    s.server.resetRequests();

    // WHEN planning C without and with --force
    const plain = parseResult(await kollect(s, ['export', '--from', s.stores.c, '--dry-run', '--output', 'json']));
    const plainText = await kollect(s, ['export', '--from', s.stores.c, '--dry-run']);
    const forced = parseResult(await kollect(s, ['export', '--from', s.stores.c, '--dry-run', '--force', '--output', 'json']));

    // THEN without --force the git sink would be skipped for its interval, and says so
    const skipped = sinkOf(plain, 'audit');
    assert.equal(skipped.skipped?.reason, 'interval');
    assert.equal(skipped.totals.added + skipped.totals.changed + skipped.totals.removed, 0);
    assert.match(plainText.stdout, /^audit\s+git\s+skipped: interval\s/m);
    assert.match(plainText.stdout, /^audit: .*exportMinInterval.*--force/m);
    // while the other sinks still plan C
    assert.ok(sinkOf(plain, 'files').totals.changed > 0);

    // and with --force it plans the same file changes as the file sink, which holds the same B
    const git = sinkOf(forced, 'audit');
    assert.equal(git.skipped, undefined);
    assert.ok(git.totals.changed > 0, JSON.stringify(git.totals));
    assert.deepEqual(fileActions(git), fileActions(sinkOf(forced, 'files')));
    assert.deepEqual(fileActions(git), expectedFileChanges(s.rows.b, s.rows.c));

    // and neither dry run touched the mirror or the remote
    assert.equal(s.server.requests, 0);
    assert.deepEqual(await folderState(s.mirrorDir), mirrorBefore);
  });
});

describe('kollect export --output json through a pipe', () => {
  it('GIVEN a store of over 2,000 namespaces WHEN its dry run is printed as JSON into a pipe THEN the reader gets the whole document, not the first 64 KiB', async () => {
    // GIVEN
    const dir = await tempDir();
    const store = await buildStore(join(dir, 'store'), CLUSTER, syntheticRows({ cluster: CLUSTER, count: 3_000, namespaces: 3_000, attributeBytes: 10 }));
    const shards = store.shards.length;
    await store.close();
    const config = join(dir, 'kollect.yaml');
    await writeFile(config, [`cluster: ${CLUSTER}`, 'sinks:', `  - { name: files, type: file, dir: ${JSON.stringify(join(dir, 'files'))} }`, ''].join('\n'));
    // WHEN
    const run = await runKollect(['export', '--config', config, '--from', store.dir, '--dry-run', '--output', 'json']);
    // THEN
    assert.equal(run.code, 0, run.stderr);
    assert.ok(run.stdout.length > 256 << 10, `only ${run.stdout.length} bytes: the test needs a result larger than a pipe's buffer`);
    const result = JSON.parse(run.stdout) as RunResult;
    assert.equal(result.store.shards, shards);
    assert.ok(shards > 2_000, `${shards} shards`);
  });
});
