import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLogger } from '../../src/cli/common.js';

/** What a text logger writes to stderr for one call. */
function textLine(log: (logger: ReturnType<typeof createLogger>) => void): string {
  const written: string[] = [];
  const write = process.stderr.write.bind(process.stderr);
  process.stderr.write = ((chunk: string) => written.push(chunk) > 0) as typeof process.stderr.write;
  try {
    log(createLogger({ json: false }));
  } finally {
    process.stderr.write = write;
  }
  return written.join('');
}

describe('the terminal logger', () => {
  it('GIVEN a name with a newline and a terminal escape WHEN logged THEN one line, every control character escaped', () => {
    const hostile = 'web\nwarn: forged line \u001b[31mred\u009b2J';
    const line = textLine((log) => log.warn(`pod ${hostile} skipped`, { name: hostile, plain: 'payments-prod', spaced: 'a b' }));
    assert.equal(line.split('\n').length, 2, line);
    assert.doesNotMatch(line, /(?!\n)\p{Cc}/u);
    assert.match(line, /^warn: pod web\\nwarn: forged line \\u001b\[31mred\\u009b2J skipped /);
    assert.match(line, / name="web\\nwarn: forged line \\u001b\[31mred\\u009b2J" /);
    assert.match(line, / plain=payments-prod spaced="a b"\n$/);
  });
});
