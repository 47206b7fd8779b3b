import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { BenchRecord, jsonResultPath, type BenchResult } from '../../../scripts/support/bench-result.js';
import { Verdicts, type Verdict } from '../../../scripts/support/verdicts.js';
import { tempDir } from '../../support/store-fixture.js';

/** Runs `work` and gives back the exit code it set, leaving the test process's own untouched. */
function exitCodeSetBy(work: () => void): number | string | undefined {
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    work();
    return process.exitCode;
  } finally {
    process.exitCode = before;
  }
}

describe("a benchmark's verdicts", () => {
  const cases: Array<[Omit<Verdict, 'name' | 'pass'>, boolean, string]> = [
    [{ value: 2, operator: '<=', target: 2, unit: 'x' }, true, '(target <= 2x)'],
    [{ value: 2.01, operator: '<=', target: 2, unit: 'x' }, false, '(target <= 2x)'],
    [{ value: 7.5, operator: '>=', target: 7.5, unit: 'x' }, true, '(target >= 7.5x)'],
    [{ value: 7.49, operator: '>=', target: 7.5, unit: 'x' }, false, '(target >= 7.5x)'],
    [{ value: 511.9, operator: '<', target: 512, unit: 'MiB' }, true, '(target < 512 MiB)'],
    [{ value: 512, operator: '<', target: 512, unit: 'MiB' }, false, '(target < 512 MiB)'],
    [{ value: 0, operator: '==', target: 0, unit: 'requests' }, true, '(target 0)'],
    [{ value: 1, operator: '==', target: 0, unit: 'requests' }, false, '(target 0)'],
  ];
  for (const [figure, pass, target] of cases) {
    it(`GIVEN ${figure.value} held to ${figure.operator} ${figure.target} WHEN checked THEN ${pass ? 'PASS' : 'MISS'}, the line ending in ${target}`, () => {
      const verdicts = new Verdicts();
      verdicts.check({ name: 'figure', ...figure }, 'what was measured');
      assert.deepEqual(verdicts.list(), [{ name: 'figure', ...figure, pass }]);
      let text = '';
      const code = exitCodeSetBy(() => (text = verdicts.report()));
      assert.equal(text, `${pass ? 'PASS' : 'MISS'}  what was measured ${target}`);
      // A MISS fails the benchmark's process, so that it can gate a pipeline.
      assert.equal(code, pass ? undefined : 1);
    });
  }
});

describe('the JSON result of a benchmark (--json FILE)', () => {
  const dirs: string[] = [];
  after(() => Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true }))));

  it('GIVEN measured cases and verdicts, one missed WHEN written THEN the file holds the documented shape, with the miss and pass false', async () => {
    const dir = await tempDir('kollect-bench-result-');
    dirs.push(dir);
    const before = new Date().toISOString();
    const record = new BenchRecord('bench:collect', { sizes: '100000', rounds: 3 });
    record.add('typed-api@100000', { objects: 100_000, ms: 6300 });
    record.add('kollect-metadata@100000', { objects: 100_000, ms: 700, ratio: 9 });
    const verdicts = new Verdicts();
    verdicts.check({ name: 'metadata-only@100000', value: 9, operator: '>=', target: 7.5, unit: 'x' }, 'metadata-only at 100000: 9.00x the typed API');
    verdicts.check({ name: 'peak-rss-growth', value: 1.6, operator: '<=', target: 1.5, unit: 'x' }, 'peak RSS: 1.60x');
    const path = await jsonResultPath(['--sizes', '100000', '--json', join(dir, 'result.json')]);

    await record.write(path!, verdicts);

    const result = JSON.parse(await readFile(path!, 'utf8')) as BenchResult;
    assert.deepEqual(Object.keys(result), ['schemaVersion', 'benchmark', 'startedAt', 'finishedAt', 'machine', 'parameters', 'cases', 'verdicts', 'pass']);
    assert.equal(result.schemaVersion, 1);
    assert.equal(result.benchmark, 'bench:collect');
    assert.ok(before <= result.startedAt && result.startedAt <= result.finishedAt, `${before} <= ${result.startedAt} <= ${result.finishedAt}`);
    assert.equal(result.machine.node, process.version);
    assert.ok(result.machine.cpus >= 1);
    assert.equal(result.machine.platform, process.platform);
    assert.deepEqual(result.parameters, { sizes: '100000', rounds: 3 });
    assert.deepEqual(result.cases, [
      { name: 'typed-api@100000', figures: { objects: 100_000, ms: 6300 } },
      { name: 'kollect-metadata@100000', figures: { objects: 100_000, ms: 700, ratio: 9 } },
    ]);
    assert.deepEqual(result.verdicts, [
      { name: 'metadata-only@100000', value: 9, operator: '>=', target: 7.5, unit: 'x', pass: true },
      { name: 'peak-rss-growth', value: 1.6, operator: '<=', target: 1.5, unit: 'x', pass: false },
    ]);
    assert.equal(result.pass, false);
  });

  const paths: Array<[string[], string | undefined]> = [
    [['--sizes', '1000'], undefined],
    [['--json', 'out.json'], 'out.json'],
    [['--rounds', '1', '--json=out.json'], 'out.json'],
  ];
  for (const [argv, file] of paths) {
    it(`GIVEN the arguments ${argv.join(' ')} THEN the result goes to ${file ?? 'no file'}`, async () => {
      assert.equal(await jsonResultPath(argv), file && resolve(file));
    });
  }

  it('GIVEN --json without a file, or a file in a folder that does not exist THEN the benchmark fails before measuring, saying why', async () => {
    await assert.rejects(jsonResultPath(['--json']), /--json takes the file to write the result to/);
    await assert.rejects(jsonResultPath(['--json', '--rounds', '1']), /--json takes the file to write the result to/);
    const dir = await tempDir('kollect-bench-result-');
    dirs.push(dir);
    const missing = join(dir, 'no-such-folder');
    await assert.rejects(jsonResultPath(['--json', join(missing, 'result.json')]), (error: Error) =>
      error.message.includes(`cannot write into ${missing} (ENOENT)`),
    );
  });
});
