import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatBytes, formatCount, printable } from '../src/format.js';

describe('formatCount', () => {
  for (const n of [0, 7, 999, 1000, 25000, 100000, 1234567, 1000000000, -1234]) {
    it(`GIVEN ${n} THEN it prints as toLocaleString('en-US') does`, () => {
      assert.equal(formatCount(n), n.toLocaleString('en-US'));
    });
  }
});

describe('formatBytes', () => {
  // [bytes, printed]: the shard report and the run summary print sizes the same way.
  const cases: Array<[number, string]> = [
    [0, '0 B'],
    [1023, '1023 B'],
    [1024, '1.0 KiB'],
    [49_459, '48.3 KiB'],
    [1_048_524, '1023.9 KiB'],
    [1024 * 1024 - 1, '1.00 MiB'],
    [1024 * 1024, '1.00 MiB'],
    [1_415_577, '1.35 MiB'],
    [1.5 * 1024 * 1024, '1.50 MiB'],
  ];
  for (const [n, printed] of cases) {
    it(`GIVEN ${n} bytes THEN ${printed}`, () => {
      assert.equal(formatBytes(n), printed);
    });
  }
});

describe('printable', () => {
  // [text from a cluster, as a summary or a log shows it]
  const cases: Array<[string, string]> = [
    ['kube-system', 'kube-system'],
    ['real-hostile/hostile-nul', 'real-hostile/hostile-nul'],
    ['', '""'],
    ['nul\u0000inside', '"nul\\u0000inside"'],
    ['a\tb\nc\u001b[31m', '"a\\tb\\nc\\u001b[31m"'],
    ['right-to-left \u202e override', '"right-to-left \\u202e override"'],
    ['say "hi"', '"say \\"hi\\""'],
    ['zero\u200bwidth\u00adsoft \u2028line', '"zero\\u200bwidth\\u00adsoft \\u2028line"'],
    ['C1\u009b2J', '"C1\\u009b2J"'],
    // Letters of any script stay readable: only what a terminal acts on or hides is escaped.
    ['日本語 🚀', '"日本語 🚀"'],
  ];
  for (const [text, shown] of cases) {
    it(`GIVEN ${JSON.stringify(text)} THEN ${shown}, no control, invisible or bidirectional character`, () => {
      assert.equal(printable(text), shown);
      assert.doesNotMatch(printable(text), /[\p{Cc}\u00ad\u200b-\u200f\u2028-\u202e]/u);
    });
  }
});
