import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { RunResult } from '../../src/run.js';
import type { SinkPlan } from '../../src/sinks/sink.js';
import type { CollectStore } from '../../src/store/collect-store.js';
import { runKollect, type CliResult } from '../support/cli.js';
import { withGitServer } from '../support/git-server.js';
import { leaksOf } from '../support/leaks.js';
import { tempDir } from '../support/store-fixture.js';
import { assertRemoteHolds, expectedFiles, fsck, hashTree, remoteFiles, store } from '../sinks/git/git-fixture.js';

/**
 * The Git sink through the built CLI (`bin/kollect export --from STORE`), as a CronJob runs it:
 * separate OS processes, exit codes, what reaches stdout and stderr.
 */

interface SinkYaml {
  url: string;
  mirrorDir: string;
  /** Extra YAML flow-mapping entries for the sink, e.g. `auth: {...}`. */
  extra?: string;
}

async function writeConfig(cluster: string, sink: SinkYaml): Promise<string> {
  const file = join(await tempDir('kollect-git-e2e-'), 'kollect.yaml');
  const entries = [
    `name: audit`,
    'type: git',
    `url: ${JSON.stringify(sink.url)}`,
    `mirrorDir: ${JSON.stringify(sink.mirrorDir)}`,
    'exportMinInterval: 1h',
    sink.extra ?? '',
  ].filter(Boolean);
  await writeFile(file, `cluster: ${cluster}\nsinks:\n  - { ${entries.join(', ')} }\n`);
  return file;
}

function exportStore(source: CollectStore, config: string, flags: string[] = [], env: NodeJS.ProcessEnv = {}): Promise<CliResult> {
  return runKollect(['export', '--from', source.dir, '--config', config, '--output', 'json', ...flags], { env });
}

/** The one sink outcome of a `--output json` run; fails the test with stderr when the output is not JSON. */
function gitOutcome(run: CliResult): RunResult['sinks'][number] {
  let parsed: RunResult;
  try {
    parsed = JSON.parse(run.stdout) as RunResult;
  } catch {
    assert.fail(`stdout is not JSON (exit ${run.code}):\n${run.stdout}\n${run.stderr}`);
  }
  assert.equal(parsed.sinks.length, 1);
  return parsed.sinks[0]!;
}

function planOf(run: CliResult): SinkPlan {
  const outcome = gitOutcome(run);
  assert.ok(outcome.ok, `${run.stderr}`);
  return outcome.result;
}

describe('kollect export to a git sink (CLI processes)', () => {
  it('GIVEN two clusters WHEN two kollect processes export to the same ref at once THEN both commits land and each cluster keeps its files', () =>
    withGitServer(async (server) => {
      const [s1, s2] = await Promise.all([store({ cluster: 'c1' }), store({ cluster: 'c2' })]);
      const c1 = await writeConfig('c1', { url: server.url, mirrorDir: await tempDir('kollect-mirror-') });
      const c2 = await writeConfig('c2', { url: server.url, mirrorDir: await tempDir('kollect-mirror-') });

      const runs = await Promise.all([exportStore(s1, c1), exportStore(s2, c2)]);

      for (const run of runs) assert.equal(run.code, 0, run.stderr);
      assert.equal((await server.git(['rev-list', '--count', 'main'])).trim(), '3');
      const files = new Map([...(await expectedFiles(s1)), ...(await expectedFiles(s2))]);
      assert.deepEqual(await remoteFiles(server), ['README.md', ...files.keys()].sort());
      await assertRemoteHolds(server, files);
      await fsck(server);
    }));

  it('GIVEN a store WHEN dry-run, export, dry-run of a change, export, export again THEN each plan equals what the export did, dry runs touch neither the mirror nor the remote, and unchanged or too early exports make 0 requests', () =>
    withGitServer(async (server) => {
      const mirrorDir = await tempDir('kollect-mirror-');
      const config = await writeConfig('c1', { url: server.url, mirrorDir });
      const stores = [
        await store({ cluster: 'c1' }),
        await store({ cluster: 'c1', changeNamespaces: ['ns-001', 'ns-002', 'ns-004'], dropNamespaces: ['ns-006'], revision: 2 }),
      ];
      for (const source of stores) {
        const mirrorBefore = await hashTree(mirrorDir);
        const refsBefore = await server.git(['show-ref']);
        server.resetRequests();

        const dry = await exportStore(source, config, ['--dry-run', '--force']);

        assert.equal(dry.code, 0, dry.stderr);
        assert.equal(server.requests, 0);
        assert.deepEqual(await hashTree(mirrorDir), mirrorBefore);
        assert.equal(await server.git(['show-ref']), refsBefore);
        const plan = planOf(dry);
        const applied = planOf(await exportStore(source, config, ['--force']));
        assert.deepEqual({ totals: applied.totals, shards: applied.shards }, { totals: plan.totals, shards: plan.shards });
        const touched = (await server.git(['diff', '--name-only', 'main~1', 'main'])).trim().split('\n');
        const planned = plan.shards.filter((s) => s.counts.unchanged === 0).map((s) => s.path);
        assert.deepEqual(touched.sort(), planned.sort());
      }
      assert.deepEqual(planOf(await exportStore(stores[1]!, config, ['--dry-run'])).skipped?.reason, 'unchanged');
      server.resetRequests();
      const again = planOf(await exportStore(stores[1]!, config, ['--force']));
      assert.equal(again.skipped?.reason, 'unchanged');
      assert.equal(server.requests, 0);
      // A changed store within exportMinInterval (1h), not forced: skipped, no request either.
      const early = planOf(await exportStore(stores[0]!, config));
      assert.equal(early.skipped?.reason, 'interval');
      assert.equal(server.requests, 0);
      await fsck(server);
    }));
});

describe('kollect export to a git sink: credentials (CLI processes)', () => {
  const TOKEN = 'ghp-e2e-right-token-51c0';
  const WRONG = 'ghp-e2e-wrong-token-9ab4';

  it('GIVEN a wrong token WHEN exporting with -v THEN exit 1, GIT_AUTH_FAILED naming the sink, and the token nowhere in stdout, stderr or the mirror config', () =>
    withGitServer({ auth: { username: 'kollect-bot', token: TOKEN } }, async (server) => {
      const mirrorDir = await tempDir('kollect-mirror-');
      const config = await writeConfig('c1', { url: server.url, mirrorDir, extra: 'auth: { username: { env: GIT_USER }, token: { env: GIT_TOKEN } }' });

      const run = await exportStore(await store({ cluster: 'c1' }), config, ['-v'], { GIT_USER: 'kollect-bot', GIT_TOKEN: WRONG });

      assert.equal(run.code, 1, run.stderr);
      const outcome = gitOutcome(run);
      assert.ok(!outcome.ok);
      assert.equal(outcome.error.code, 'GIT_AUTH_FAILED');
      assert.match(outcome.error.message, /^sink "audit": authentication to http:\/\/127\.0\.0\.1:\d+\/inventory\.git failed during fetch/);
      assert.ok(run.stderr.includes('"sink":"audit","code":"GIT_AUTH_FAILED"'), run.stderr);
      const mirrorConfig = await readFile(join(mirrorDir, '.git', 'config'), 'utf8');
      for (const [where, text] of [
        ['stdout', run.stdout],
        ['stderr', run.stderr],
        ['mirror config', mirrorConfig],
      ]) {
        assert.ok(!text!.includes(WRONG) && !text!.includes(TOKEN), `token in ${where}:\n${text}`);
      }
      assert.equal((await server.git(['rev-list', '--count', 'main'])).trim(), '1');
    }));

  it('GIVEN credentials in the URL WHEN exporting THEN exit 2 naming sinks[0].url, no request, and the token is not printed', () =>
    withGitServer({ auth: { username: 'kollect-bot', token: TOKEN } }, async (server) => {
      const url = server.url.replace('http://', `http://kollect-bot:${TOKEN}@`);
      const config = await writeConfig('c1', { url, mirrorDir: await tempDir('kollect-mirror-') });
      server.resetRequests();

      const run = await exportStore(await store({ cluster: 'c1' }), config, ['-v']);

      assert.equal(run.code, 2, run.stderr);
      assert.match(run.stderr, /sinks\[0\]\.url/);
      assert.ok(!run.stdout.includes(TOKEN) && !run.stderr.includes(TOKEN), `token printed:\n${run.stdout}\n${run.stderr}`);
      assert.equal(server.requests, 0);
    }));
});

describe('kollect export to a git sink over HTTPS with a private CA (CLI processes)', () => {
  it('GIVEN a server whose certificate a private CA signed WHEN exporting without tls.caFile, with an unreadable one, then with it THEN GIT_REMOTE_FAILED pointing at tls.caFile, SINK_CONFIG naming the file before any request, and at last the files land', () =>
    withGitServer({ tls: true }, async (server) => {
      assert.match(server.url, /^https:/);
      const source = await store({ cluster: 'c1' });
      const mirrorDir = await tempDir('kollect-mirror-');

      const untrusted = await exportStore(source, await writeConfig('c1', { url: server.url, mirrorDir }));

      assert.equal(untrusted.code, 1, untrusted.stderr);
      const refused = gitOutcome(untrusted);
      assert.ok(!refused.ok);
      assert.equal(refused.error.code, 'GIT_REMOTE_FAILED');
      assert.match(refused.error.message, /certificate/);
      assert.match(refused.error.message, /tls\.caFile/);

      const missing = join(await tempDir('kollect-ca-'), 'absent.crt');
      server.resetRequests();
      const unreadable = await exportStore(
        source,
        await writeConfig('c1', { url: server.url, mirrorDir, extra: `tls: { caFile: ${JSON.stringify(missing)} }` }),
      );

      assert.equal(unreadable.code, 1, unreadable.stderr);
      const notRead = gitOutcome(unreadable);
      assert.ok(!notRead.ok);
      assert.equal(notRead.error.code, 'SINK_CONFIG');
      assert.ok(notRead.error.message.includes(`tls.caFile ${missing} cannot be read: file not found`), notRead.error.message);
      assert.equal(server.requests, 0);
      assert.equal((await server.git(['rev-list', '--count', 'main'])).trim(), '1');

      const trusted = await exportStore(
        source,
        await writeConfig('c1', { url: server.url, mirrorDir, extra: `tls: { caFile: ${JSON.stringify(server.caFile)} }` }),
      );

      assert.equal(trusted.code, 0, trusted.stderr);
      assert.equal(planOf(trusted).totals.added, source.shards.length);
      await assertRemoteHolds(server, await expectedFiles(source));
      await fsck(server);
    }));

  it('GIVEN tls on a git sink with an http URL WHEN validating the config THEN exit 2 naming sinks[0].tls', async () => {
    const config = await writeConfig('c1', {
      url: 'http://git.example.com/inventory.git',
      mirrorDir: await tempDir('kollect-mirror-'),
      extra: 'tls: { caFile: /etc/kollect/git-ca.crt }',
    });

    const run = await runKollect(['config', 'validate', config]);

    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stderr, /sinks\[0\]\.tls: applies only to an https URL/);
  });
});

describe('kollect export to a slow or hanging git server (CLI processes)', () => {
  it('GIVEN a server that answers a push only after 6 s of silence (a slow pre-receive hook) WHEN exporting with the default requestTimeout THEN the push succeeds', () =>
    withGitServer(async (server) => {
      const source = await store({ cluster: 'c1' });
      const config = await writeConfig('c1', { url: server.url, mirrorDir: await tempDir('kollect-mirror-') });
      // Longer than the 5 s after which Node's default agent gave up on a silent socket.
      server.stall({ service: 'git-receive-pack', mode: 'late', ms: 6_000 });

      const run = await exportStore(source, config);

      assert.equal(run.code, 0, run.stderr);
      assert.equal(planOf(run).totals.added, source.shards.length);
      await assertRemoteHolds(server, await expectedFiles(source));
    }));

  it('GIVEN a push that lands but whose answer comes after requestTimeout WHEN exporting THEN a fetch sees the commit on the remote and the export counts as pushed', () =>
    withGitServer(async (server) => {
      const source = await store({ cluster: 'c1' });
      const config = await writeConfig('c1', { url: server.url, mirrorDir: await tempDir('kollect-mirror-'), extra: 'requestTimeout: 2s' });
      server.stall({ service: 'git-receive-pack', mode: 'late', ms: 4_000 });

      const run = await exportStore(source, config);

      assert.equal(run.code, 0, run.stderr);
      assert.equal(planOf(run).totals.added, source.shards.length);
      assert.match(run.stderr, /git push timed out, but the remote holds the commit: it landed/);
      assert.equal((await server.git(['rev-list', '--count', 'main'])).trim(), '2');
      await assertRemoteHolds(server, await expectedFiles(source));
    }));

  it('GIVEN a push held past requestTimeout without reaching the repository WHEN exporting THEN it is retried within pushRetries and lands once; with pushRetries 0, exit 1 GIT_TIMEOUT naming requestTimeout', () =>
    withGitServer(async (server) => {
      const source = await store({ cluster: 'c1' });
      const mirrorDir = await tempDir('kollect-mirror-');
      server.stall({ service: 'git-receive-pack', mode: 'held', ms: 60_000, times: 1 });

      const noRetry = await exportStore(source, await writeConfig('c1', { url: server.url, mirrorDir, extra: 'requestTimeout: 1s, pushRetries: 0' }));

      assert.equal(noRetry.code, 1, noRetry.stderr);
      const failed = gitOutcome(noRetry);
      assert.ok(!failed.ok);
      assert.equal(failed.error.code, 'GIT_TIMEOUT');
      assert.match(failed.error.message, /sent nothing for 1s \(POST git-receive-pack\).*raise requestTimeout/);
      assert.equal((await server.git(['rev-list', '--count', 'main'])).trim(), '1');

      server.stall({ service: 'git-receive-pack', mode: 'held', ms: 60_000, times: 1 });
      const retried = await exportStore(source, await writeConfig('c1', { url: server.url, mirrorDir, extra: 'requestTimeout: 1s' }));

      assert.equal(retried.code, 0, retried.stderr);
      assert.match(retried.stderr, /git push timed out and the remote does not hold the commit: fetching and retrying/);
      assert.equal((await server.git(['rev-list', '--count', 'main'])).trim(), '2');
      await assertRemoteHolds(server, await expectedFiles(source));
    }));

  it('GIVEN a push the server holds without an answer WHEN SIGTERM arrives THEN the request is aborted: exit 1 INTERRUPTED at once, the remote unchanged', () =>
    withGitServer(async (server) => {
      const source = await store({ cluster: 'c1' });
      const config = await writeConfig('c1', { url: server.url, mirrorDir: await tempDir('kollect-mirror-') });
      const before = await server.git(['rev-parse', 'main']);
      server.stall({ service: 'git-receive-pack', mode: 'held', ms: 60_000 });
      let signalled = 0;
      const stalled = server.nextStall();

      const run = await runKollect(['export', '--from', source.dir, '--config', config, '--output', 'json'], {
        onSpawn: (pid) =>
          void stalled.then(() => {
            signalled = Date.now();
            process.kill(pid, 'SIGTERM');
          }),
      });

      const took = Date.now() - signalled;
      assert.ok(signalled > 0, 'the push never reached the server');
      assert.equal(run.code, 1, run.stderr);
      const outcome = gitOutcome(run);
      assert.ok(!outcome.ok);
      assert.equal(outcome.error.code, 'INTERRUPTED');
      // Node's default agent would have given up on the silent server after 5 s, not at once.
      assert.ok(took < 4_000, `took ${took} ms after SIGTERM`);
      assert.equal(await server.git(['rev-parse', 'main']), before);
    }));
});

describe('kollect export to a git sink whose URL carries a token in its query (CLI processes)', () => {
  const TOKEN = 'glpat-e2e-query-token-7f3a';

  it('GIVEN ?access_token= in the URL WHEN exporting, then with a wrong one THEN the files land, the token is sent with each request but stored nowhere, and GIT_AUTH_FAILED shows the URL with ***', () =>
    withGitServer({ queryToken: { name: 'access_token', value: TOKEN } }, async (server) => {
      const source = await store({ cluster: 'c1' });
      const mirrorDir = await tempDir('kollect-mirror-');

      const run = await exportStore(source, await writeConfig('c1', { url: `${server.url}?access_token=${TOKEN}`, mirrorDir }), ['-v']);

      assert.equal(run.code, 0, run.stderr);
      await assertRemoteHolds(server, await expectedFiles(source));
      assert.equal((await readFile(join(mirrorDir, '.git', 'config'), 'utf8')).match(/url = (.*)/)?.[1], server.url);

      const otherMirror = await tempDir('kollect-mirror-');
      const wrong = await exportStore(source, await writeConfig('c1', { url: `${server.url}?access_token=not-${TOKEN}`, mirrorDir: otherMirror }));

      assert.equal(wrong.code, 1, wrong.stderr);
      const refused = gitOutcome(wrong);
      assert.ok(!refused.ok);
      assert.equal(refused.error.code, 'GIT_AUTH_FAILED');
      assert.ok(refused.error.message.includes(`authentication to ${server.url}?access_token=*** failed during fetch`), refused.error.message);
      assert.deepEqual(await leaksOf([TOKEN], { stdout: run.stdout + wrong.stdout, stderr: run.stderr + wrong.stderr }, [mirrorDir, otherMirror]), []);
    }));
});
