import assert from 'node:assert/strict';
import { chmod, mkdir, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { GitHttpRequest, HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import { InterruptedError, LockBusyError, SinkError } from '../../../src/errors.js';
import { gitMirrorDir } from '../../../src/sinks/git/git-sink.js';
import { MAX_COMMITS_PER_CLONE } from '../../../src/sinks/git/mirror.js';
import { LOCK_FILE } from '../../../src/sinks/git/mirror-lock.js';
import { loadState, saveState } from '../../../src/sinks/git/sink-state.js';
import { parseShardDocument } from '../../../src/sinks/document/shard-document.js';
import { startGitServer, withGitServer, type GitServer } from '../../support/git-server.js';
import { tempDir } from '../../support/store-fixture.js';
import {
  assertRemoteHolds,
  captureLogger,
  context,
  expectedFiles,
  exportedSink,
  fsck,
  gitConfig,
  gitSink,
  hashTree,
  HOUR,
  manualClock,
  remoteFiles,
  rows,
  store,
} from './git-fixture.js';

async function commitCount(server: GitServer): Promise<number> {
  return Number((await server.git(['rev-list', '--count', 'main'])).trim());
}

describe('git sink: first export', () => {
  it('GIVEN a repository with one commit WHEN exporting THEN one commit holds exactly the expected files, fsck is clean and a clone shows renderShardDocument output', () =>
    withGitServer(async (server) => {
      const source = await store({ cluster: 'c1' });
      const { sink } = await gitSink(server);

      const result = await sink.apply(source, context());

      const expected = await expectedFiles(source);
      assert.equal(result.totals.added, expected.size);
      assert.equal(await commitCount(server), 2);
      assert.deepEqual(await remoteFiles(server), ['README.md', ...expected.keys()].sort());
      assert.deepEqual((await server.git(['diff', '--name-only', 'main~1', 'main'])).trim().split('\n').sort(), [...expected.keys()].sort());
      await fsck(server);
      const clone = await tempDir('kollect-clone-');
      await server.cloneTo(clone);
      for (const [path, content] of expected) assert.equal(await readFile(join(clone, path), 'utf8'), content, path);
      const message = (await server.git(['log', '-1', '--format=%an <%ae>%n%s', 'main'])).trim();
      assert.match(
        message,
        /^kollect <kollect@localhost>\nkollect snapshot: cluster c1: 8 shards changed \(8 added\), 400 rows changed \(400 added\), 400 rows in all$/,
      );
    }));
});

describe('git sink: empty remote', () => {
  it('GIVEN a remote without any commit WHEN exporting THEN the first commit is created (no parent) and pushed', () =>
    withGitServer({ initial: 'empty' }, async (server) => {
      const source = await store({ cluster: 'c1' });
      const { sink } = await gitSink(server);
      await sink.apply(source, context());
      assert.equal(await commitCount(server), 1);
      assert.equal((await server.git(['log', '-1', '--format=%P', 'main'])).trim(), '');
      assert.deepEqual(await remoteFiles(server), [...(await expectedFiles(source)).keys()].sort());
      await fsck(server);
    }));
});

describe('git sink: skip rules and incremental commits', () => {
  let server: GitServer;
  before(async () => {
    server = await startGitServer();
  });
  after(async () => server.close());

  it('GIVEN an exported store WHEN unchanged, within the interval, or 3 namespaces changed THEN 0 requests, 0 requests, then one commit of exactly 3 files', async () => {
    const { sink, clock } = await exportedSink(server);
    const commits = await commitCount(server);

    // Unchanged store, even forced and an hour later: fingerprint skip, no request at all.
    clock.advance(2 * HOUR);
    server.resetRequests();
    const unchanged = await sink.apply(await store({ cluster: 'c1' }), context({ now: clock.now, force: true }));
    assert.equal(unchanged.skipped?.reason, 'unchanged');
    assert.equal(server.requests, 0);

    // Changed store, 10 minutes after the last export, not forced: interval skip, no request.
    const changed = await store({ cluster: 'c1', changeNamespaces: ['ns-001', 'ns-002', 'ns-004'], revision: 2 });
    const { log: intervalLog } = captureLogger();
    clock.advance(-2 * HOUR + 10 * 60_000);
    const early = await sink.apply(changed, context({ now: clock.now, log: intervalLog }));
    assert.equal(early.skipped?.reason, 'interval');
    assert.equal(server.requests, 0);
    assert.equal(await commitCount(server), commits);

    // Past the interval: one commit touching exactly the three files.
    clock.advance(HOUR);
    const result = await sink.apply(changed, context({ now: clock.now }));
    assert.equal(result.skipped, undefined);
    assert.deepEqual(result.totals, { added: 0, changed: 3, unchanged: 5, removed: 0 });
    assert.equal(await commitCount(server), commits + 1);
    const touched = (await server.git(['diff', '--name-only', 'main~1', 'main'])).trim().split('\n').sort();
    assert.deepEqual(touched, ['clusters/c1/namespaces/ns-001.json', 'clusters/c1/namespaces/ns-002.json', 'clusters/c1/namespaces/ns-004.json']);
    const relabelled = rows({ cluster: 'c1' }).filter((r) => ['ns-001', 'ns-002', 'ns-004'].includes(r.namespace)).length;
    assert.equal(
      (await server.git(['log', '-1', '--format=%s', 'main'])).trim(),
      `kollect snapshot: cluster c1: 3 shards changed (3 updated), ${relabelled} rows changed (${relabelled} updated), 400 rows in all`,
    );
    await fsck(server);
  });

  it('GIVEN a history of several commits WHEN a new mirror clones it shallow (depth 1) THEN its push still lands', async () => {
    const { sink, mirrorDir } = await gitSink(server);
    await sink.apply(await store({ cluster: 'c1', changeNamespaces: ['ns-000', 'ns-001', 'ns-002', 'ns-004'], revision: 2 }), context());
    assert.ok((await stat(join(mirrorDir, '.git', 'shallow'))).isFile(), 'the mirror is shallow');
    assert.match((await server.git(['log', '-1', '--format=%s', 'main'])).trim(), /1 shard changed/);
    await fsck(server);
  });
});

describe('git sink: several clusters in one repository', () => {
  it('GIVEN two clusters exporting at once to the same ref WHEN both push THEN both commits land and each cluster keeps its files', () =>
    withGitServer(async (server) => {
      const [s1, s2] = await Promise.all([store({ cluster: 'c1' }), store({ cluster: 'c2' })]);
      const { sink: sink1 } = await gitSink(server, { name: 'audit-1' });
      const { sink: sink2 } = await gitSink(server, { name: 'audit-2' });
      const { log, lines } = captureLogger();

      await Promise.all([sink1.apply(s1, context({ log })), sink2.apply(s2, context({ log }))]);

      assert.equal(await commitCount(server), 3);
      const e1 = await expectedFiles(s1);
      const e2 = await expectedFiles(s2);
      assert.deepEqual(await remoteFiles(server), ['README.md', ...e1.keys(), ...e2.keys()].sort());
      await assertRemoteHolds(server, [...e1, ...e2]);
      await fsck(server);
      // The race is real when both fetch the same head: the loser re-applies on the winner's commit.
      const retried = lines.filter((l) => l.message.includes('push rejected')).length;
      assert.ok(retried <= 1, `at most one retry, saw ${retried}`);
    }));

  it('GIVEN another cluster in the repository WHEN a namespace is deleted THEN its file is removed in the next commit and the other cluster is untouched', () =>
    withGitServer(async (server) => {
      const clock = manualClock();
      await exportedSink(server, { cluster: 'c2', config: { name: 'other' }, clock });
      const { sink } = await exportedSink(server, { clock });
      const otherTree = (await server.git(['rev-parse', 'main:clusters/c2'])).trim();
      const readme = (await server.git(['rev-parse', 'main:README.md'])).trim();

      clock.advance(HOUR);
      const result = await sink.apply(await store({ cluster: 'c1', dropNamespaces: ['ns-004'] }), context({ now: clock.now }));

      assert.equal(result.totals.removed, 1);
      assert.deepEqual(result.shards.find((s) => s.shard === 'ns-004')?.counts, { added: 0, changed: 0, unchanged: 0, removed: 1 });
      assert.equal((await server.git(['diff', '--name-status', 'main~1', 'main'])).trim(), 'D\tclusters/c1/namespaces/ns-004.json');
      assert.equal((await server.git(['rev-parse', 'main:clusters/c2'])).trim(), otherTree);
      assert.equal((await server.git(['rev-parse', 'main:README.md'])).trim(), readme);
      await fsck(server);
    }));
  it("GIVEN a mirror that has fetched before WHEN another cluster changed one namespace THEN the next fetch brings only that commit's new objects, not the whole tree", () =>
    withGitServer(async (server) => {
      const clock = manualClock();
      const other = await exportedSink(server, { cluster: 'c2', config: { name: 'other' }, clock });
      const { sink, mirrorDir } = await exportedSink(server, { clock });
      await other.sink.apply(await store({ cluster: 'c2', changeNamespaces: ['ns-001'] }), context({ now: clock.now, force: true }));
      const packs = join(mirrorDir, '.git', 'objects', 'pack');
      const before = new Set(await readdir(packs));

      await sink.apply(await store({ cluster: 'c1', changeNamespaces: ['ns-003'] }), context({ now: clock.now, force: true }));

      const fetched = (await readdir(packs)).filter((f) => f.endsWith('.idx') && !before.has(f));
      assert.equal(fetched.length, 1);
      // A pack index (v2) ends its fan-out table with the number of objects in the pack.
      const objects = (await readFile(join(packs, fetched[0]!))).readUInt32BE(8 + 255 * 4);
      // The commit, four trees on the path (root, clusters, c2, namespaces) and the one changed file.
      assert.equal(objects, 6);
    }));

  it('GIVEN a template where one cluster name prefixes another ({cluster}-{namespace}) WHEN exporting and dropping a namespace THEN only files naming this cluster are removed', () =>
    withGitServer(async (server) => {
      const clock = manualClock();
      const pathTemplate = 'clusters/{cluster}-{namespace}.json';
      const { source: longer } = await exportedSink(server, { cluster: 'c1-b', config: { name: 'other', pathTemplate }, clock });
      const { sink, result: first } = await exportedSink(server, { config: { pathTemplate }, clock });
      assert.equal(first.totals.removed, 0);

      clock.advance(HOUR);
      const result = await sink.apply(await store({ cluster: 'c1', dropNamespaces: ['ns-004'] }), context({ now: clock.now }));

      assert.equal(result.totals.removed, 1);
      assert.equal((await server.git(['diff', '--name-status', 'main~1', 'main'])).trim(), 'D\tclusters/c1-ns-004.json');
      await assertRemoteHolds(server, await expectedFiles(longer, pathTemplate));
    }));
});

describe('git sink: push races and retries', () => {
  /** An HTTP client that lets another writer move the branch right before each push reaches the server. */
  function racingHttp(server: GitServer, times: number): HttpClient & { moved: number } {
    const client = {
      moved: 0,
      request: async (request: GitHttpRequest) => {
        if (request.method === 'POST' && request.url.endsWith('/git-receive-pack') && client.moved < times) {
          client.moved++;
          const head = (await server.git(['rev-parse', 'main'])).trim();
          const commit = (await server.git(['commit-tree', `${head}^{tree}`, '-p', head, '-m', `other writer ${client.moved}`])).trim();
          await server.git(['update-ref', 'refs/heads/main', commit, head]);
        }
        return nodeHttp.request(request);
      },
    };
    return client;
  }

  it('GIVEN the branch moves between fetch and push WHEN exporting THEN the push is retried on the new head and the other commit is kept', () =>
    withGitServer(async (server) => {
      const http = racingHttp(server, 1);
      const { sink } = await gitSink(server, { pushRetries: 2 }, { http });
      await sink.apply(await store({ cluster: 'c1' }), context());
      assert.equal(http.moved, 1);
      assert.deepEqual((await server.git(['log', '--format=%s', 'main'])).trim().split('\n').slice(1), ['other writer 1', 'initial commit']);
      await fsck(server);
    }));

  it('GIVEN the branch moves before every push WHEN the retries are spent THEN SinkError GIT_PUSH_REJECTED and nothing of ours landed', () =>
    withGitServer(async (server) => {
      const sleeps: number[] = [];
      const http = racingHttp(server, 100);
      const { sink } = await gitSink(server, { pushRetries: 2 }, { http, sleep: async (ms) => void sleeps.push(ms) });
      await assert.rejects(
        sink.apply(await store({ cluster: 'c1' }), context()),
        (error: unknown) => error instanceof SinkError && error.code === 'GIT_PUSH_REJECTED',
      );
      assert.equal(http.moved, 3);
      assert.deepEqual(sleeps, [200, 400]);
      assert.deepEqual(await remoteFiles(server), ['README.md']);
    }));
  it("GIVEN a server hook that declines the push WHEN exporting THEN SinkError GIT_PUSH_REFUSED with the server's reason, without retrying", () =>
    withGitServer(async (server) => {
      const hook = join(server.bareDir, 'hooks', 'pre-receive');
      await writeFile(hook, '#!/bin/sh\necho "main is protected" >&2\nexit 1\n');
      await chmod(hook, 0o755);
      const sleeps: number[] = [];
      const { sink } = await gitSink(server, {}, { sleep: async (ms) => void sleeps.push(ms) });
      let caught: unknown;
      await sink.apply(await store({ cluster: 'c1' }), context()).catch((error: unknown) => (caught = error));
      assert.ok(caught instanceof SinkError && caught.code === 'GIT_PUSH_REFUSED', String(caught));
      assert.match(caught.message, /pre-receive hook declined/);
      assert.deepEqual(sleeps, []);
      assert.deepEqual(await remoteFiles(server), ['README.md']);
    }));
});

describe('git sink: damaged or foreign mirror', () => {
  /** Ways a mirror gets damaged (a volume restored half, a node crash): each must be recloned. */
  const damages: Array<[string, (mirrorDir: string, server: GitServer) => Promise<void>]> = [
    [
      "a deleted object file of this cluster's",
      async (mirrorDir, server) => {
        const blob = (await server.git(['rev-parse', 'main:clusters/c1/namespaces/ns-003.json'])).trim();
        await rm(join(mirrorDir, '.git', 'objects', blob.slice(0, 2), blob.slice(2)));
      },
    ],
    [
      "a deleted pack (another cluster's trees, which a push walks)",
      async (mirrorDir) => {
        const packs = join(mirrorDir, '.git', 'objects', 'pack');
        for (const file of await readdir(packs)) await rm(join(packs, file));
      },
    ],
    [
      'a deleted pack file whose index was left behind',
      async (mirrorDir) => {
        const packs = join(mirrorDir, '.git', 'objects', 'pack');
        for (const file of await readdir(packs)) if (file.endsWith('.pack')) await rm(join(packs, file));
      },
    ],
  ];
  for (const [damage, breakMirror] of damages) {
    it(`GIVEN a mirror with ${damage} WHEN exporting THEN it is recloned with a warning and the export succeeds`, () =>
      withGitServer(async (server) => {
        const clock = manualClock();
        await exportedSink(server, { cluster: 'c2', config: { name: 'other' }, clock });
        const { sink, mirrorDir } = await exportedSink(server, { clock });
        await breakMirror(mirrorDir, server);

        clock.advance(HOUR);
        const { log, lines } = captureLogger();
        const changed = await store({ cluster: 'c1', changeNamespaces: ['ns-005'], revision: 2 });
        const result = await sink.apply(changed, context({ now: clock.now, log }));

        assert.ok(
          lines.some((l) => l.level === 'warn' && l.message.includes('damaged')),
          JSON.stringify(lines),
        );
        assert.deepEqual(result.totals, { added: 0, changed: 1, unchanged: 7, removed: 0 });
        await assertRemoteHolds(server, [...(await expectedFiles(changed)), ...(await expectedFiles(await store({ cluster: 'c2' })))]);
        await fsck(server);
      }));
  }

  it('GIVEN a run killed while writing (a cut file in the staging folder) WHEN exporting THEN the export succeeds and the staged file is gone, with the staging folder the first export wrote through left empty', () =>
    withGitServer(async (server) => {
      const { sink, mirrorDir, clock } = await exportedSink(server);
      const staging = join(mirrorDir, '.git', 'kollect-staging');
      // The first export wrote objects, refs and config through staging, and left nothing there.
      assert.deepEqual(await readdir(staging), []);
      await writeFile(join(staging, '0123456789abcdef'), Buffer.alloc(4096, 1));

      clock.advance(HOUR);
      const { log, lines } = captureLogger();
      const changed = await store({ cluster: 'c1', changeNamespaces: ['ns-004'], revision: 2 });
      const result = await sink.apply(changed, context({ now: clock.now, log }));

      assert.deepEqual(
        lines.filter((l) => l.level === 'warn'),
        [],
      );
      assert.deepEqual(result.totals, { added: 0, changed: 1, unchanged: 7, removed: 0 });
      assert.deepEqual(await readdir(staging), []);
      await assertRemoteHolds(server, await expectedFiles(changed));
      await fsck(server);
    }));

  it("GIVEN a mirror cloned after its cluster's files were pushed (all of them packed, none loose) WHEN exporting a change THEN the mirror serves as it is: no warning, no reclone", () =>
    withGitServer(async (server) => {
      const clock = manualClock();
      await exportedSink(server, { config: { name: 'earlier' }, clock });
      const { sink, mirrorDir, result: cloned } = await exportedSink(server, { clock });
      assert.equal(cloned.skipped?.reason, 'unchanged');
      assert.deepEqual(
        (await readdir(join(mirrorDir, '.git', 'objects'))).filter((name) => /^[0-9a-f]{2}$/.test(name)),
        [],
        'no loose object',
      );

      clock.advance(HOUR);
      const { log, lines } = captureLogger();
      const result = await sink.apply(await store({ cluster: 'c1', changeNamespaces: ['ns-002'], revision: 2 }), context({ now: clock.now, log }));

      assert.deepEqual(
        lines.filter((l) => l.level === 'warn' || l.message.includes('cloning')),
        [],
      );
      assert.deepEqual(result.totals, { added: 0, changed: 1, unchanged: 7, removed: 0 });
      await fsck(server);
    }));

  it('GIVEN a mirror that pushed many commits since its clone WHEN exporting THEN it is recloned (compaction) and the counter restarts', () =>
    withGitServer(async (server) => {
      const { sink, mirrorDir } = await exportedSink(server);
      const state = await loadState(mirrorDir);
      assert.equal(state.mirrorCommits, 1);
      await saveState(mirrorDir, { ...state, mirrorCommits: MAX_COMMITS_PER_CLONE });
      const { log, lines } = captureLogger();
      await sink.apply(await store({ cluster: 'c1', changeNamespaces: ['ns-000'] }), context({ log, force: true }));
      assert.ok(lines.some((l) => l.message.includes('recloning to compact')));
      assert.equal((await loadState(mirrorDir)).mirrorCommits, 1);
      await fsck(server);
    }));

  it('GIVEN a mirror cloned from another URL WHEN exporting THEN it is recloned with a warning', () =>
    withGitServer((first) =>
      withGitServer(async (second) => {
        const { mirrorDir } = await exportedSink(first);
        const { log, lines } = captureLogger();
        const source = await store({ cluster: 'c1' });
        const { sink } = await gitSink(second, { mirrorDir });
        const result = await sink.apply(source, context({ log }));
        assert.ok(lines.some((l) => l.level === 'warn' && l.message.includes('another remote')));
        assert.equal(result.totals.added, 8);
        assert.deepEqual(await remoteFiles(second), ['README.md', ...(await expectedFiles(source)).keys()].sort());
      }),
    ));
});

describe('git sink: one export per mirror folder', () => {
  const holder = { pid: 4242, host: 'kollect-manual-7xk2p', since: '2026-03-01T09:59:30.000Z', token: 'other' };

  it('GIVEN another run holding the mirror (a fresh lock) WHEN exporting THEN LOCK_BUSY names that run, nothing is pushed and its lock stays', () =>
    withGitServer(async (server) => {
      const { sink, mirrorDir } = await gitSink(server);
      await mkdir(mirrorDir, { recursive: true });
      await writeFile(join(mirrorDir, LOCK_FILE), JSON.stringify(holder));
      server.resetRequests();

      const error = await sink.apply(await store({ cluster: 'c1' }), context()).then(
        () => assert.fail('expected LOCK_BUSY'),
        (caught: unknown) => caught,
      );

      assert.ok(error instanceof LockBusyError, String(error));
      assert.equal(error.exitCode, 1);
      assert.match(
        error.message,
        /sink "audit": another kollect run \(pid 4242 on host kollect-manual-7xk2p, since 2026-03-01T09:59:30.000Z\) is exporting through the git mirror/,
      );
      assert.equal(server.requests, 0);
      assert.deepEqual(await remoteFiles(server), ['README.md']);
      assert.equal(JSON.parse(await readFile(join(mirrorDir, LOCK_FILE), 'utf8')).token, 'other');
    }));

  it('GIVEN a lock left by a run that died (untouched for 2 minutes) WHEN exporting THEN it is taken over with a warning, the export lands and no lock is left', () =>
    withGitServer(async (server) => {
      const { sink, mirrorDir } = await gitSink(server);
      await mkdir(mirrorDir, { recursive: true });
      const lock = join(mirrorDir, LOCK_FILE);
      await writeFile(lock, JSON.stringify(holder));
      const then = new Date(Date.now() - 2 * 60_000);
      await utimes(lock, then, then);
      const { log, lines } = captureLogger();

      const source = await store({ cluster: 'c1' });
      const result = await sink.apply(source, context({ log }));

      assert.equal(result.totals.added, 8);
      await assertRemoteHolds(server, await expectedFiles(source));
      const warning = lines.find((l) => l.level === 'warn');
      assert.match(warning?.message ?? '', /lock left by a run that stopped/);
      assert.deepEqual(warning?.data?.holder, holder);
      await assert.rejects(stat(lock), { code: 'ENOENT' });
    }));

  it('GIVEN two exports of one mirror started at once WHEN both run THEN one lands and the other is LOCK_BUSY, and the state records the one that landed', () =>
    withGitServer(async (server) => {
      const { sink, mirrorDir } = await gitSink(server);
      const second = (await gitSink(server, { mirrorDir })).sink;
      const first = await store({ cluster: 'c1' });
      const other = await store({ cluster: 'c1', changeNamespaces: ['ns-002'], revision: 2 });

      const outcomes = await Promise.allSettled([sink.apply(first, context()), second.apply(other, context())]);

      const landed = outcomes.findIndex((o) => o.status === 'fulfilled');
      const refused = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
      assert.ok(landed >= 0 && refused, JSON.stringify(outcomes.map((o) => o.status)));
      assert.ok(refused.reason instanceof LockBusyError, String(refused.reason));
      const winner = landed === 0 ? first : other;
      await assertRemoteHolds(server, await expectedFiles(winner));
      assert.equal((await loadState(mirrorDir)).refs.main?.commit, (await server.git(['rev-parse', 'main'])).trim());
      await assert.rejects(stat(join(mirrorDir, LOCK_FILE)), { code: 'ENOENT' });
    }));

  it('GIVEN an export that fails (the remote is unreachable) THEN no lock is left, and the next export runs', async () => {
    const { sink, mirrorDir } = await gitSink({ url: 'http://127.0.0.1:9/unreachable.git' });
    await assert.rejects(
      sink.apply(await store({ cluster: 'c1' }), context()),
      (error: unknown) => error instanceof SinkError && error.code === 'GIT_REMOTE_FAILED',
    );
    await assert.rejects(stat(join(mirrorDir, LOCK_FILE)), { code: 'ENOENT' });
    await assert.rejects(
      sink.apply(await store({ cluster: 'c1' }), context()),
      (error: unknown) => error instanceof SinkError && error.code === 'GIT_REMOTE_FAILED',
    );
  });
});

describe('git sink: credentials', () => {
  const TOKEN = 'ghp-correct-token-7f3a91';
  const WRONG = 'ghp-wrong-token-0c2d55';
  let server: GitServer;
  before(async () => {
    server = await startGitServer({ auth: { username: 'kollect-bot', token: TOKEN } });
  });
  after(async () => server.close());

  it('GIVEN a wrong token WHEN exporting THEN SinkError GIT_AUTH_FAILED names the sink, and no token appears in the error or the logs', async () => {
    const { log, lines } = captureLogger();
    const { sink } = await gitSink(
      server,
      { name: 'audit-auth', auth: { username: { env: 'GIT_USER' }, token: { env: 'GIT_TOKEN' } } },
      { env: { GIT_USER: 'kollect-bot', GIT_TOKEN: `  ${WRONG}\n` } },
    );
    let caught: unknown;
    await sink.apply(await store({ cluster: 'c1' }), context({ log })).catch((error: unknown) => (caught = error));
    assert.ok(caught instanceof SinkError, String(caught));
    assert.equal(caught.code, 'GIT_AUTH_FAILED');
    assert.match(caught.message, /audit-auth/);
    assert.ok(caught.message.includes(server.url));
    for (const text of [caught.message, JSON.stringify(caught), JSON.stringify(caught.toJSON()), String(caught.stack), JSON.stringify(lines)]) {
      assert.ok(!text.includes(WRONG) && !text.includes(TOKEN), `token leaked into: ${text}`);
    }
    assert.deepEqual(await remoteFiles(server), ['README.md']);
  });

  it('GIVEN the right token in a mounted file WHEN exporting THEN the push lands', async () => {
    const dir = await tempDir('kollect-secret-');
    await writeFile(join(dir, 'token'), `${TOKEN}\n`);
    const { sink } = await gitSink(
      server,
      { auth: { username: { env: 'GIT_USER' }, token: { file: join(dir, 'token') } } },
      { env: { GIT_USER: 'kollect-bot' } },
    );
    const result = await sink.apply(await store({ cluster: 'c1' }), context());
    assert.equal(result.totals.added, 8);
    assert.equal((await remoteFiles(server)).length, 9);
  });

  it('GIVEN a token variable that is not set WHEN exporting THEN GIT_AUTH_MISSING before any request', async () => {
    server.resetRequests();
    const { sink } = await gitSink(server, { auth: { token: { env: 'NOPE' } } }, { env: {} });
    await assert.rejects(
      sink.apply(await store({ cluster: 'c1' }), context()),
      (error: unknown) => error instanceof SinkError && error.code === 'GIT_AUTH_MISSING',
    );
    assert.equal(server.requests, 0);
  });

  it('GIVEN a server that requires auth and a sink without any WHEN exporting THEN GIT_AUTH_FAILED', async () => {
    const { sink } = await gitSink(server);
    await assert.rejects(
      sink.apply(await store({ cluster: 'c1' }), context()),
      (error: unknown) => error instanceof SinkError && error.code === 'GIT_AUTH_FAILED',
    );
  });
});

describe('git sink: incomplete types', () => {
  it('GIVEN configmaps listed incompletely (403) WHEN exporting THEN their rows in the existing files are carried over, other types updated', () =>
    withGitServer(async (server) => {
      const { sink, clock, source: complete } = await exportedSink(server);
      const configmapsBefore = new Map<string, string[]>();
      for (const [path, content] of await expectedFiles(complete)) {
        configmapsBefore.set(
          path,
          parseShardDocument(content)!
            .rows.filter((r) => r.resource === 'configmaps')
            .map((r) => r.name),
        );
      }

      clock.advance(HOUR);
      const partial = await store(
        { cluster: 'c1', dropResources: ['configmaps'], changeNamespaces: ['ns-001'], revision: 2 },
        { incomplete: { configmaps: 'forbidden' } },
      );
      await sink.apply(partial, context({ now: clock.now }));

      for (const [path, names] of configmapsBefore) {
        const doc = parseShardDocument(await server.git(['show', `main:${path}`]))!;
        assert.deepEqual(
          doc.rows.filter((r) => r.resource === 'configmaps').map((r) => r.name),
          names,
          path,
        );
      }
      const ns1 = parseShardDocument(await server.git(['show', 'main:clusters/c1/namespaces/ns-001.json']))!;
      assert.ok(ns1.rows.filter((r) => r.resource === 'pods').every((r) => r.labels.rev === '2'));
      assert.ok(ns1.rows.filter((r) => r.resource === 'configmaps').every((r) => r.labels.rev === undefined));
      await fsck(server);
    }));
});

describe('git sink: plan', () => {
  it('GIVEN no mirror WHEN planning THEN it plans against an empty tree, says so, creates nothing and makes no request', () =>
    withGitServer(async (server) => {
      const parent = await tempDir('kollect-mirror-');
      const mirrorDir = join(parent, 'mirror');
      const { sink } = await gitSink(server, { mirrorDir });
      const { log, lines } = captureLogger();
      const source = await store({ cluster: 'c1' });
      const plan = await sink.plan(source, context({ log }));
      assert.equal(plan.totals.added, 8);
      assert.ok(lines.some((l) => l.message.includes('mirror not yet cloned')));
      await assert.rejects(stat(mirrorDir), { code: 'ENOENT' });
      assert.equal(server.requests, 0);
      const applied = await sink.apply(source, context());
      assert.deepEqual(applied.shards, plan.shards);
      assert.deepEqual(applied.totals, plan.totals);
    }));

  it('GIVEN an exported mirror WHEN planning a change THEN the plan equals what apply does, the mirror is byte-identical and the remote refs unchanged', () =>
    withGitServer(async (server) => {
      const { sink, mirrorDir, clock } = await exportedSink(server);
      clock.advance(HOUR);
      const next = await store({ cluster: 'c1', changeNamespaces: ['ns-002'], dropNamespaces: ['ns-006'], revision: 2 });
      const mirrorBefore = await hashTree(mirrorDir);
      const refsBefore = await server.git(['show-ref']);
      server.resetRequests();

      const plan = await sink.plan(next, context({ now: clock.now }));

      assert.deepEqual(await hashTree(mirrorDir), mirrorBefore);
      assert.equal(await server.git(['show-ref']), refsBefore);
      assert.equal(server.requests, 0);
      assert.deepEqual(plan.totals, { added: 0, changed: 1, unchanged: 6, removed: 1 });
      const applied = await sink.apply(next, context({ now: clock.now }));
      assert.deepEqual(
        { totals: applied.totals, shards: applied.shards, skipped: applied.skipped },
        { totals: plan.totals, shards: plan.shards, skipped: plan.skipped },
      );
      assert.deepEqual((await server.git(['diff', '--name-only', 'main~1', 'main'])).trim().split('\n'), [
        'clusters/c1/namespaces/ns-002.json',
        'clusters/c1/namespaces/ns-006.json',
      ]);

      // And once applied, plan and apply agree on the skip.
      const again = await sink.plan(next, context({ now: clock.now }));
      assert.equal(again.skipped?.reason, 'unchanged');
    }));
});

describe('git sink: interruption', () => {
  it('GIVEN an aborted signal WHEN applying THEN InterruptedError before any request', () =>
    withGitServer(async (server) => {
      const controller = new AbortController();
      controller.abort();
      const { sink } = await gitSink(server);
      await assert.rejects(sink.apply(await store({ cluster: 'c1' }), context({ signal: controller.signal })), InterruptedError);
      assert.equal(server.requests, 0);
    }));

  it('GIVEN an abort right after the fetch WHEN applying THEN InterruptedError, nothing pushed, and the next run exports', () =>
    withGitServer(async (server) => {
      const controller = new AbortController();
      const http: HttpClient = {
        request: async (request) => {
          const response = await nodeHttp.request(request);
          if (request.url.endsWith('/git-upload-pack')) controller.abort();
          return response;
        },
      };
      const { sink: aborting, mirrorDir } = await gitSink(server, {}, { http });
      const source = await store({ cluster: 'c1' });
      await assert.rejects(aborting.apply(source, context({ signal: controller.signal })), InterruptedError);
      assert.deepEqual(await remoteFiles(server), ['README.md']);
      assert.ok(!server.requestLog.some((line) => line.includes('receive-pack')));
      const { sink } = await gitSink(server, { mirrorDir });
      const result = await sink.apply(source, context());
      assert.equal(result.totals.added, 8);
    }));
});

describe('git sink: mirror location', () => {
  it('GIVEN no mirrorDir WHEN KOLLECT_GIT_MIRROR_DIR is set THEN the mirror is <dir>/<sink name>, else .kollect/git/<sink name>', () => {
    assert.equal(gitMirrorDir(gitConfig({ url: 'https://example.com/r.git' }), { KOLLECT_GIT_MIRROR_DIR: '/var/lib/kollect' }), '/var/lib/kollect/audit');
    assert.equal(gitMirrorDir(gitConfig({ url: 'https://example.com/r.git' }), {}), join(process.cwd(), '.kollect', 'git', 'audit'));
    assert.equal(gitMirrorDir(gitConfig({ url: 'https://example.com/r.git', mirrorDir: '/m' }), { KOLLECT_GIT_MIRROR_DIR: '/x' }), '/m');
  });
});
