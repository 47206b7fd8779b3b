import { InvalidArgumentError } from 'commander';

/** A span back from now: `90s`, `30m`, `24h`, `7d`, `2w`, or combined (`1d12h`). */
const SPAN = /^(?:(\d+)w)?(?:(\d+)d)?(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/;
/** RFC 3339 (`2026-12-07T09:30:00Z`, `2026-12-07 09:30:00.5+01:00`): a date and a time with an offset. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

const SECOND = 1000;
const UNIT_MS = [7 * 86_400, 86_400, 3_600, 60, 1].map((seconds) => seconds * SECOND);

/**
 * A time flag (`--since`, `--until`, `--as-of`): a span back from `now` or an RFC 3339 time.
 * A bad value is commander's InvalidArgumentError, which names the flag (exit 2).
 */
export function pointInTime(value: string, now: () => number = Date.now): Date {
  const span = value === '' ? null : SPAN.exec(value);
  if (span) return new Date(now() - span.slice(1).reduce((ms, n, i) => ms + Number(n ?? 0) * UNIT_MS[i]!, 0));
  const date = RFC3339.exec(value);
  const ms = date ? Date.parse(value) : Number.NaN;
  // Date.parse rolls 2026-02-30 over into March; a calendar day that does not exist is a mistake.
  const [, year, month, day] = (date ?? []).map(Number);
  const realDay = date !== null && new Date(Date.UTC(year!, month! - 1, day!)).getUTCDate() === day;
  if (!Number.isFinite(ms) || !realDay) {
    throw new InvalidArgumentError('must be a span back from now (30m, 24h, 7d, 2w) or an RFC 3339 time (2026-12-07T09:30:00Z).');
  }
  return new Date(ms);
}
