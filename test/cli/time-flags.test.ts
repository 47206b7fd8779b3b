import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidArgumentError } from 'commander';
import { pointInTime } from '../../src/cli/time-flags.js';

/** `--since`, `--until` and `--as-of`: a span back from now, or an RFC 3339 time. */

const NOW = Date.parse('2026-12-07T12:00:00Z');

describe('time flags', () => {
  const valid: Array<[string, string]> = [
    ['24h', '2026-12-06T12:00:00.000Z'],
    ['7d', '2026-11-30T12:00:00.000Z'],
    ['1d12h', '2026-12-06T00:00:00.000Z'],
    ['90s', '2026-12-07T11:58:30.000Z'],
    ['2026-12-01T08:30:00Z', '2026-12-01T08:30:00.000Z'],
    ['2026-12-01T08:30:00.250+01:00', '2026-12-01T07:30:00.250Z'],
    ['2026-12-01 08:30:00z', '2026-12-01T08:30:00.000Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
  ];
  for (const [value, expected] of valid) {
    it(`GIVEN ${value} WHEN it is read as a time flag THEN it is ${expected}`, () => {
      assert.equal(pointInTime(value, () => NOW).toISOString(), expected);
    });
  }

  const invalid = ['yesterday', '', '2w', '-1h', '2026-12-01', '2026-12-01T08:30:00', '2026-13-01T00:00:00Z', '2026-02-29T00:00:00Z', '2026-12-01T25:00:00Z'];
  for (const value of invalid) {
    it(`GIVEN ${JSON.stringify(value)} WHEN it is read as a time flag THEN it is refused with the forms it takes`, () => {
      assert.throws(
        () => pointInTime(value, () => NOW),
        (error: Error) => error instanceof InvalidArgumentError && /RFC 3339/.test(error.message),
      );
    });
  }
});
