import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { logLines, runKollect } from '../support/cli.js';
import { tempDir } from '../support/store-fixture.js';

const MINIMAL = fileURLToPath(new URL('../../examples/minimal.yaml', import.meta.url));

interface JsonReport {
  cluster?: string;
  shards: Array<{ key: string; rows: number; status: string }>;
  totals: { rows: number };
  thresholds: { warnRows: number; targetRows: number; maxRows: number };
}

const pods = (namespace: string, count: number, prefix = 'p'): string =>
  Array.from({ length: count }, (_, i) => `apiVersion: v1\nkind: Pod\nmetadata: { name: ${prefix}${i}, namespace: ${namespace} }\n`).join('---\n');

async function report(paths: string[]): Promise<{ code: number | null; stderr: string; report?: JsonReport }> {
  const run = await runKollect(['shard-report', '--config', MINIMAL, '--format', 'json', ...paths.flatMap((p) => ['--manifests', p])]);
  return { code: run.code, stderr: run.stderr, report: run.code === 0 ? (JSON.parse(run.stdout) as JsonReport) : undefined };
}

const rowsByShard = (r: JsonReport | undefined): Record<string, number> => Object.fromEntries((r?.shards ?? []).map((s) => [s.key, s.rows]));

describe('kollect shard-report --manifests: what it finds', () => {
  it('GIVEN manifests reached through symbolic links (a file, a folder, a loop, one file twice) THEN each is counted once and the walk ends', async () => {
    const repo = await tempDir('kollect-manifests-');
    const base = join(repo, 'base');
    await mkdir(base);
    await writeFile(join(base, 'shop.yaml'), pods('shop', 3));
    await writeFile(join(base, 'extra.yaml'), pods('extra', 2));
    const overlay = join(repo, 'overlay');
    await mkdir(overlay);
    await symlink(join(base, 'shop.yaml'), join(overlay, 'shop.yaml'));
    await symlink(base, join(overlay, 'base'));
    await symlink(overlay, join(overlay, 'loop'));
    await symlink(join(repo, 'README'), join(overlay, 'dangling-notes'));

    // WHEN the overlay alone, whose every manifest is a link, is reported
    const run = await report([overlay]);
    // THEN the linked manifests count, shop.yaml once although reached twice
    assert.equal(run.code, 0, run.stderr);
    assert.deepEqual(rowsByShard(run.report), { shop: 3, extra: 2 });
  });

  it('GIVEN a link named as a manifest that leads nowhere THEN exit 2 naming it', async () => {
    const repo = await tempDir('kollect-manifests-');
    await writeFile(join(repo, 'shop.yaml'), pods('shop', 1));
    await symlink(join(repo, 'moved-away.yaml'), join(repo, 'web.yaml'));
    const run = await report([repo]);
    assert.equal(run.code, 2, run.stderr);
    const error = logLines(run).at(-1) as { code: string; message: string };
    assert.equal(error.code, 'USAGE');
    assert.match(error.message, /web\.yaml": a symbolic link to nothing/);
  });

  it('GIVEN a folder with no manifest at all (a typo, a checkout that failed) THEN exit 2, not a PASS on nothing', async () => {
    const repo = await tempDir('kollect-manifests-');
    await writeFile(join(repo, 'README.md'), '# deploy');
    await mkdir(join(repo, '.git'));
    await writeFile(join(repo, '.git', 'pods.yaml'), pods('hidden', 1));
    const full = await tempDir('kollect-manifests-');
    await writeFile(join(full, 'shop.yaml'), pods('shop', 1));

    for (const paths of [[repo], [full, repo]]) {
      const run = await report(paths);
      assert.equal(run.code, 2, run.stderr);
      const error = logLines(run).at(-1) as { code: string; message: string };
      assert.equal(error.code, 'USAGE');
      assert.ok(error.message.includes(`${JSON.stringify(repo)}: no manifest found`), error.message);
    }
  });

  it('GIVEN objects without metadata.name THEN each is named in a warning (file, document, item) and not counted', async () => {
    const repo = await tempDir('kollect-manifests-');
    const list = {
      apiVersion: 'v1',
      kind: 'List',
      items: [
        { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'listed', namespace: 'shop' } },
        { apiVersion: 'v1', kind: 'Pod', metadata: { namespace: 'shop' } },
      ],
    };
    await writeFile(join(repo, 'list.json'), JSON.stringify(list));
    await writeFile(
      join(repo, 'pods.yaml'),
      `${pods('shop', 2)}---\napiVersion: v1\nkind: Pod\nmetadata: { namespace: shop }\n---\napiVersion: v1\nkind: Pod\nmetadata: { generateName: job-, namespace: shop }\n`,
    );

    const run = await report([repo]);
    assert.equal(run.code, 0, run.stderr);
    // The two named pods, the listed one and the one the server would name from generateName.
    assert.deepEqual(rowsByShard(run.report), { shop: 4 });
    const warnings = logLines(run)
      .filter((l) => l.level === 'warn')
      .map((l) => l.msg);
    assert.deepEqual(warnings, [
      `${JSON.stringify(join(repo, 'list.json'))}, document 1, item 2: a Pod without metadata.name: the API server would refuse it, so it is not counted`,
      `${JSON.stringify(join(repo, 'pods.yaml'))}, document 3: a Pod without metadata.name: the API server would refuse it, so it is not counted`,
    ]);
  });
});

describe('kollect shard-report --manifests without a configuration file, as a CI job runs it', () => {
  /** A checkout: deploy/ with 1,801 pods in shop (one past the default warning) and a Deployment and a Widget in web. */
  async function checkout(): Promise<string> {
    const repo = await tempDir('kollect-ci-checkout-');
    await mkdir(join(repo, 'deploy'));
    await writeFile(join(repo, 'deploy', 'shop.yaml'), pods('shop', 1801));
    await writeFile(
      join(repo, 'deploy', 'web.yaml'),
      'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: web, namespace: web }\n---\napiVersion: example.com/v1\nkind: Widget\nmetadata: { name: w, namespace: web }\n',
    );
    return repo;
  }

  it('GIVEN a checkout with no kollect.yaml WHEN shard-report --manifests runs in it THEN the default resources and thresholds apply, and no cluster is named', async () => {
    const repo = await checkout();
    const run = await runKollect(['shard-report', '--manifests', 'deploy', '--format', 'json'], { cwd: repo });
    assert.equal(run.code, 0, run.stderr);
    const report = JSON.parse(run.stdout) as JsonReport;
    // THEN the Widget is no default resource; the Deployment is
    assert.deepEqual(rowsByShard(report), { shop: 1801, web: 1 });
    assert.deepEqual([report.thresholds.warnRows, report.thresholds.targetRows, report.thresholds.maxRows], [1800, 2000, 2500]);
    assert.equal(report.shards.find((s) => s.key === 'shop')?.status, 'warn');
    assert.equal(report.cluster, undefined);

    const strict = await runKollect(['shard-report', '--manifests', 'deploy', '--fail-on', 'warn', '--cluster', 'ci-stage'], { cwd: repo });
    assert.equal(strict.code, 1, strict.stderr);
    assert.match(strict.stdout, /^Shard report for cluster ci-stage \(manifests: deploy\)/);
    assert.match(strict.stdout, /FAIL: 1 shard\(s\) at or past "warn": shop/);
  });

  it('GIVEN an explicit --config, KOLLECT_CONFIG or a kollect.yaml in the folder THEN its thresholds and cluster apply', async () => {
    const repo = await checkout();
    const config = 'cluster: stage\nshards: { warnRows: 1, targetRows: 1, maxRows: 5000 }\n';
    await writeFile(join(repo, 'ci.yaml'), config);
    const runs = [
      await runKollect(['shard-report', '--manifests', 'deploy', '--format', 'json', '--config', 'ci.yaml'], { cwd: repo }),
      await runKollect(['shard-report', '--manifests', 'deploy', '--format', 'json'], { cwd: repo, env: { KOLLECT_CONFIG: 'ci.yaml' } }),
    ];
    await writeFile(join(repo, 'kollect.yaml'), config);
    runs.push(await runKollect(['shard-report', '--manifests', 'deploy', '--format', 'json'], { cwd: repo }));
    for (const run of runs) {
      assert.equal(run.code, 1, run.stderr);
      const report = JSON.parse(run.stdout) as JsonReport;
      assert.deepEqual([report.cluster, report.shards.find((s) => s.key === 'shop')?.status], ['stage', 'over']);
    }
  });

  it('GIVEN --config naming a file that is not there THEN exit 2 naming it, not a report on the defaults', async () => {
    const repo = await checkout();
    const run = await runKollect(['shard-report', '--manifests', 'deploy', '--config', 'missing.yaml'], { cwd: repo });
    assert.equal(run.code, 2, run.stderr);
    const error = logLines(run).at(-1) as { code: string; message: string };
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.match(error.message, /missing\.yaml.*file not found/s);
  });
});
