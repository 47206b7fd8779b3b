import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { skipReason, type ExportAttempt } from '../../../src/sinks/document/skip-decision.js';
import type { RefState } from '../../../src/sinks/git/sink-state.js';

const HOUR = 3_600_000;
const config = { ref: 'main', exportMinInterval: HOUR };
const last: RefState = {
  url: 'http://git.example/fleet.git',
  cluster: 'c1',
  fingerprint: 'f1',
  exportedAt: '2026-01-01T10:00:00.000Z',
  commit: 'abc',
  shards: {},
};
const at = (iso: string): Date => new Date(iso);
const attempt: ExportAttempt = { url: last.url, cluster: 'c1', fingerprint: 'f2', force: false, now: at('2026-01-01T10:30:00.000Z') };

describe('git sink: the skip decision, from the last export of the ref', () => {
  const cases: Array<{ when: string; last: RefState | undefined; attempt: ExportAttempt; then: 'unchanged' | 'interval' | undefined }> = [
    { when: 'no export before', last: undefined, attempt, then: undefined },
    {
      when: 'the same payload, even after the interval',
      last,
      attempt: { ...attempt, fingerprint: 'f1', now: at('2026-01-02T10:00:00.000Z') },
      then: 'unchanged',
    },
    { when: 'the same payload, forced', last, attempt: { ...attempt, fingerprint: 'f1', force: true }, then: 'unchanged' },
    { when: 'another payload within the interval', last, attempt, then: 'interval' },
    { when: 'another payload within the interval, forced', last, attempt: { ...attempt, force: true }, then: undefined },
    { when: 'another payload once the interval has passed', last, attempt: { ...attempt, now: at('2026-01-01T11:00:00.000Z') }, then: undefined },
    { when: 'another payload, the clock behind the last export', last, attempt: { ...attempt, now: at('2026-01-01T09:00:00.000Z') }, then: undefined },
    {
      when: 'the same payload last sent to another URL',
      last,
      attempt: { ...attempt, fingerprint: 'f1', url: 'http://git.example/other.git' },
      then: undefined,
    },
    { when: 'the same payload last sent by another cluster', last, attempt: { ...attempt, fingerprint: 'f1', cluster: 'c2' }, then: undefined },
  ];
  for (const c of cases) {
    it(`GIVEN ${c.when} WHEN deciding THEN ${c.then ? `skipped (${c.then})` : 'not skipped'}`, () => {
      assert.equal(skipReason(config, c.last, c.attempt)?.reason, c.then);
    });
  }

  it('GIVEN another payload within the interval WHEN deciding THEN the message says when the next export may run and how to force it', () => {
    assert.equal(
      skipReason(config, last, attempt)?.message,
      'last export of main at 2026-01-01T10:00:00.000Z; exportMinInterval not passed until 2026-01-01T11:00:00.000Z (use --force)',
    );
  });
});
