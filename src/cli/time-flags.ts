import { InvalidArgumentError } from 'commander';
import { duration } from '../config/fields.js';

/** RFC 3339 (`2026-12-07T09:30:00Z`, `2026-12-07 09:30:00.5+01:00`): a date and a time with an offset. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:[Zz]|[+-]\d{2}:\d{2})$/;

/**
 * A time flag (`--since`, `--until`, `--as-of`): a span back from `now`, written as durations in
 * the configuration are (`30m`, `24h`, `7d`, `1d12h`), or an RFC 3339 time. A bad value is
 * commander's InvalidArgumentError, which names the flag (exit 2).
 */
export function pointInTime(value: string, now: () => number = Date.now): Date {
  const span = duration.safeParse(value);
  if (span.success) return new Date(now() - span.data);
  const date = RFC3339.exec(value);
  const ms = date ? Date.parse(value) : Number.NaN;
  // Date.parse rolls 2026-02-30 over into March; a calendar day that does not exist is a mistake.
  const [, year, month, day] = (date ?? []).map(Number);
  const realDay = date !== null && new Date(Date.UTC(year!, month! - 1, day!)).getUTCDate() === day;
  if (!Number.isFinite(ms) || !realDay) {
    throw new InvalidArgumentError('must be a span back from now (30m, 24h, 7d) or an RFC 3339 time (2026-12-07T09:30:00Z).');
  }
  return new Date(ms);
}
