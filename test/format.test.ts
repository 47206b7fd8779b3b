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
    ['日本語 🚀', '"\\u65e5\\u672c\\u8a9e \\ud83d\\ude80"'],
  ];
  for (const [text, shown] of cases) {
    it(`GIVEN ${JSON.stringify(text)} THEN ${shown}, printable ASCII only`, () => {
      assert.equal(printable(text), shown);
      assert.match(printable(text), /^[\x20-\x7e]*$/);
    });
  }
});
