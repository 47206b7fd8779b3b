import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { loadConfig, validateConfig } from '../../src/config/load.js';
import { ConfigError } from '../../src/errors.js';
import { tempDir } from '../support/store-fixture.js';

function issuesOf(raw: unknown): Array<{ path: string; message: string }> {
  try {
    validateConfig(raw);
  } catch (error) {
    assert.ok(error instanceof ConfigError);
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.equal(error.exitCode, 2);
    return error.issues;
  }
  assert.fail('expected the config to be rejected');
}

describe('configuration', () => {
  it('GIVEN a minimal config THEN the seed defaults apply', () => {
    const config = validateConfig({ cluster: 'prod-eu-1' });
    assert.equal(config.list.pageSize, 500);
    assert.equal(config.list.fastParse, true);
    assert.deepEqual({ warn: config.shards.warnRows, target: config.shards.targetRows, max: config.shards.maxRows }, { warn: 1800, target: 2000, max: 2500 });
    assert.ok(config.resources.some((r) => r.resource === 'pods'));
    assert.deepEqual(config.sinks, []);
  });

  it('GIVEN list.fastParse false THEN pages are to be parsed plainly', () => {
    assert.equal(validateConfig({ cluster: 'c', list: { fastParse: false } }).list.fastParse, false);
  });

  it('GIVEN durations THEN they become milliseconds', () => {
    const config = validateConfig({ cluster: 'c', sinks: [{ name: 'audit', type: 'git', url: 'https://git.example/repo.git', exportMinInterval: '1h30m' }] });
    const sink = config.sinks[0];
    assert.ok(sink?.type === 'git');
    assert.equal(sink.exportMinInterval, 90 * 60 * 1000);
  });

  it('GIVEN history on a postgres sink as false, true or settings THEN it becomes none, the defaults, or the settings with defaults', () => {
    const historyOf = (history: unknown) => {
      const sink = validateConfig({ cluster: 'c', sinks: [{ name: 'db', type: 'postgres', ...(history === undefined ? {} : { history }) }] }).sinks[0];
      assert.ok(sink?.type === 'postgres');
      return sink.history;
    };
    assert.equal(historyOf(undefined), false);
    assert.equal(historyOf(false), false);
    assert.deepEqual(historyOf(true), { table: 'kollect_changes', baseline: 'run' });
    assert.deepEqual(historyOf({ baseline: 'rows' }), { table: 'kollect_changes', baseline: 'rows' });
    assert.deepEqual(historyOf({ table: 'fleet_changes' }), { table: 'fleet_changes', baseline: 'run' });
  });

  it('GIVEN 90d THEN it is a duration of 90 days', () => {
    const config = validateConfig({ cluster: 'c', sinks: [{ name: 'audit', type: 'git', url: 'https://git.example/repo.git', exportMinInterval: '1d12h' }] });
    assert.ok(config.sinks[0]?.type === 'git');
    assert.equal(config.sinks[0].exportMinInterval, 36 * 3600 * 1000);
  });

  const bad: Array<[string, unknown, string, RegExp]> = [
    [
      'history with an unknown baseline',
      { cluster: 'c', sinks: [{ name: 'db', type: 'postgres', history: { baseline: 'all' } }] },
      'sinks[0].history',
      /true, false or \{table, baseline: run \| rows\}/,
    ],
    [
      'history table that is the items table',
      { cluster: 'c', sinks: [{ name: 'db', type: 'postgres', history: { table: 'kollect_items' } }] },
      'sinks[0].history.table',
      /must differ from table and runsTable/,
    ],
    [
      'history table that is no SQL identifier',
      { cluster: 'c', sinks: [{ name: 'db', type: 'postgres', history: { table: 'changes; drop' } }] },
      'sinks[0].history.table',
      /SQL identifier/,
    ],
    ['missing cluster', {}, 'cluster', /expected string/i],
    ['cluster not a DNS label', { cluster: 'Prod_1' }, 'cluster', /DNS-1123/],
    [
      'path template without namespace',
      {
        cluster: 'c',
        sinks: [
          { name: 'f', type: 'file', dir: 'out' },
          { name: 'g', type: 'file', dir: 'o', pathTemplate: 'x/{cluster}.json' },
        ],
      },
      'sinks[1].pathTemplate',
      /\{namespace\}/,
    ],
    ['inline secret', { cluster: 'c', sinks: [{ name: 'db', type: 'postgres', url: 'postgres://u:p@h/db' }] }, 'sinks[0].url', /never written inline/],
    [
      'SQL injection in a table name',
      { cluster: 'c', sinks: [{ name: 'db', type: 'postgres', table: 'items; drop table x' }] },
      'sinks[0].table',
      /SQL identifier/,
    ],
    [
      'credentials in a git URL',
      { cluster: 'c', sinks: [{ name: 'g', type: 'git', url: 'https://user:tok@git.example/r.git' }] },
      'sinks[0].url',
      /credentials/,
    ],
    ['unknown sink type', { cluster: 'c', sinks: [{ name: 'gcs', type: 'gcs' }] }, 'sinks[0].type', /file, postgres, git or s3/],
    ['unknown field', { cluster: 'c', lists: {} }, '', /lists/],
    ['unknown profile', { cluster: 'c', resources: [{ version: 'v1', resource: 'pods', profile: 'nope' }] }, 'resources[0].profile', /unknown profile "nope"/],
    [
      'duplicate sink names',
      {
        cluster: 'c',
        sinks: [
          { name: 'f', type: 'file', dir: 'a' },
          { name: 'f', type: 'file', dir: 'b' },
        ],
      },
      'sinks[1].name',
      /already/,
    ],
    [
      'runs recorded in the items table',
      { cluster: 'c', sinks: [{ name: 'db', type: 'postgres', table: 'inv', runsTable: 'inv' }] },
      'sinks[0].runsTable',
      /must differ from table/,
    ],
    ['thresholds out of order', { cluster: 'c', shards: { warnRows: 3000 } }, 'shards', /warnRows <= targetRows/],
    ['bad attribute path', { cluster: 'c', profiles: { p: { attributes: { x: 'spec..x' } } } }, 'profiles.p.attributes.x', /path/],
    ['list.fastParse not a boolean', { cluster: 'c', list: { fastParse: 'no' } }, 'list.fastParse', /expected boolean/],
  ];
  for (const [name, raw, path, message] of bad) {
    it(`GIVEN ${name} THEN the issue names ${path || 'the document'}`, () => {
      const issues = issuesOf(raw);
      const issue = issues.find((i) => i.path === path);
      assert.ok(issue, `no issue at ${path}: ${JSON.stringify(issues)}`);
      assert.match(issue.message, message);
    });
  }

  it('GIVEN several problems THEN every one is reported', () => {
    const issues = issuesOf({ cluster: 'BAD', list: { pageSize: 0 }, sinks: [{ name: 'x', type: 'file' }] });
    assert.deepEqual(issues.map((i) => i.path).sort(), ['cluster', 'list.pageSize', 'sinks[0].dir']);
  });

  it('GIVEN problems of single fields and problems across fields THEN both are reported at once', () => {
    const issues = issuesOf({
      cluster: 'BAD',
      resources: [{ version: 'v1', resource: 'pods', profile: 'nope' }, { version: 'v1', resource: 'pods' }, { resource: 'nodes' }],
      profiles: { broken: { attributes: { x: 'spec..x' } } },
      sinks: [
        { name: 'f', type: 'file', dir: 'a' },
        { name: 'f', type: 'file', dir: 'b' },
        { name: 'db', type: 'postgres', table: 'inv', runsTable: 'inv' },
        { name: 'x', type: 'file' },
      ],
    });
    assert.deepEqual(issues.map((i) => i.path).sort(), [
      'cluster',
      'profiles.broken.attributes.x',
      'resources[0].profile',
      'resources[1]',
      'resources[2].version',
      'sinks[1].name',
      'sinks[2].runsTable',
      'sinks[3].dir',
    ]);
  });

  it('GIVEN flags THEN they override the file, and --sink filters sinks', () => {
    const config = validateConfig(
      {
        cluster: 'c',
        sinks: [
          { name: 'a', type: 'file', dir: 'a' },
          { name: 'b', type: 'file', dir: 'b' },
        ],
      },
      { cluster: 'other', pageSize: 50, concurrency: 2, workers: 0, sinks: ['b'] },
    );
    assert.equal(config.cluster, 'other');
    assert.equal(config.list.pageSize, 50);
    assert.equal(config.list.concurrency, 2);
    assert.equal(config.list.workers, 0);
    assert.deepEqual(
      config.sinks.map((s) => s.name),
      ['b'],
    );
  });

  it('GIVEN flag values outside the limits of the schema THEN they are refused like the same values in the file', () => {
    assert.throws(
      () => validateConfig({ cluster: 'c' }, { pageSize: 20_000, concurrency: 500 }),
      (e: unknown) => e instanceof ConfigError && JSON.stringify(e.issues.map((i) => i.path).sort()) === JSON.stringify(['list.concurrency', 'list.pageSize']),
    );
  });

  it('GIVEN --sink naming no sink THEN a config error (exit 2) that blames the flag, not the file', () => {
    assert.throws(
      () => validateConfig({ cluster: 'c' }, { sinks: ['nope'] }, 'kollect.yaml'),
      (e: unknown) =>
        e instanceof ConfigError &&
        e.issues[0]?.path === '--sink' &&
        e.message.startsWith('kollect.yaml: a flag does not match the configuration\n  --sink: no sink named "nope"'),
    );
  });

  it('GIVEN YAML with a syntax error or a missing file THEN a ConfigError names the file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'broken.yaml');
    await writeFile(file, 'cluster: [unclosed\n');
    await assert.rejects(loadConfig(file), (e: unknown) => e instanceof ConfigError && e.message.startsWith(file));
    await assert.rejects(loadConfig(join(dir, 'missing.yaml')), (e: unknown) => e instanceof ConfigError && /not found/.test(e.message));
  });
});
