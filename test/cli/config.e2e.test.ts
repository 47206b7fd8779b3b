import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runKollect } from '../support/cli.js';

const example = (name: string): string => fileURLToPath(new URL(`../../examples/${name}`, import.meta.url));

describe('kollect config validate and help', () => {
  it('GIVEN the shipped examples THEN they validate', async () => {
    for (const name of ['kollect.yaml', 'minimal.yaml', 'fleet.yaml']) {
      const run = await runKollect(['config', 'validate', example(name)]);
      assert.equal(run.code, 0, run.stderr);
      assert.match(run.stdout, /valid/);
    }
  });

  it('GIVEN a broken config THEN every problem is printed with its path, exit 2, and no secret is echoed', async () => {
    const run = await runKollect(['config', 'validate', example('broken.yaml')]);
    assert.equal(run.code, 2);
    for (const path of [
      'cluster:',
      'list.pageSize:',
      'resources[0].profile:',
      'sinks[0].pathTemplate:',
      'sinks[1].url:',
      'sinks[1].table:',
      'sinks[2].name:',
    ]) {
      assert.ok(run.stderr.includes(path), `missing ${path} in:\n${run.stderr}`);
    }
    assert.ok(!run.stderr.includes('hunter2'), 'the inline password was echoed');
    const json = await runKollect(['config', 'validate', example('broken.yaml'), '--output', 'json']);
    assert.equal(json.code, 2);
    const parsed = JSON.parse(json.stdout) as { valid: boolean; issues: Array<{ path: string }> };
    assert.equal(parsed.valid, false);
    assert.equal(parsed.issues.length, 7);
  });

  it('GIVEN --help THEN every command is listed with exit codes, and a bad flag exits 2', async () => {
    const help = await runKollect(['--help']);
    assert.equal(help.code, 0);
    for (const command of ['collect', 'export', 'shard-report', 'config', 'db']) assert.match(help.stdout, new RegExp(`\\n  ${command}\\b`));
    assert.match(help.stdout, /Exit codes:/);
    const collectHelp = await runKollect(['collect', '--help']);
    assert.match(collectHelp.stdout, /--dry-run/);
    assert.match(collectHelp.stdout, /--page-size <n>/);
    for (const flag of [/-n, --namespace <name>/, /-A, --all-namespaces/, /-l, --selector <selector>/]) assert.match(collectHelp.stdout, flag);
    const bad = await runKollect(['collect', '--page-size', 'many']);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--page-size/);
    const unknown = await runKollect(['collect', '--no-such-flag']);
    assert.equal(unknown.code, 2);
    assert.match(collectHelp.stdout, /--workers <n>/);
    const workers = await runKollect(['collect', '--workers', '17']);
    assert.equal(workers.code, 2);
    assert.match(workers.stderr, /--workers.*auto or a whole number of threads from 0 to 16/);
  });

  it('GIVEN usage mistakes off a terminal THEN exit 2 with one JSON line of code USAGE, like every other error', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['collect', '--no-such-flag'], /unknown option '--no-such-flag'/],
      [['collect', '--page-size', '0'], /--page-size <n>.*'0' is invalid/],
      [['frobnicate'], /unknown command 'frobnicate'/],
      [['export', 'extra'], /too many arguments for 'export'/],
      [['shard-report', '--format', 'csv'], /Allowed choices are table, json, markdown/],
      [['config', 'validate', example('minimal.yaml'), '--output', 'yaml'], /Allowed choices are text, json/],
      [['db'], /a command is required/],
    ];
    for (const [args, message] of cases) {
      const run = await runKollect(args);
      assert.equal(run.code, 2, `${args.join(' ')}: ${run.stderr}`);
      const lines = run.stderr.trim().split('\n');
      const error = JSON.parse(lines.pop() ?? '') as { level: string; code: string; message: string };
      assert.equal(error.level, 'error');
      assert.equal(error.code, 'USAGE', args.join(' '));
      assert.match(error.message, message);
      assert.ok(!lines.some((l) => l.startsWith('error:')), `${args.join(' ')}: commander's own text line too:\n${run.stderr}`);
    }
  });

  it('GIVEN a config file that does not exist THEN exit 2 naming it', async () => {
    const run = await runKollect(['collect', '--config', '/nonexistent/kollect.yaml']);
    assert.equal(run.code, 2);
    // Not on a terminal, errors are JSON lines a log pipeline can read.
    const error = JSON.parse(run.stderr.trim().split('\n').pop()!) as { code: string; message: string; issues: Array<{ path: string; message: string }> };
    assert.equal(error.code, 'CONFIG_INVALID');
    assert.match(error.message, /nonexistent\/kollect.yaml: invalid configuration/);
    assert.deepEqual(error.issues, [{ path: '', message: 'file not found' }]);
  });
});
