import type { RoundFigures } from './scale-day.js';

/** bench:scale's default size: the seed's fleet. */
const FULL = { clusters: 200, rows: 50_000 };

/** The size of a bench:scale run: clusters, rows per cluster, and how many clusters go through kollect. */
export interface RunSize {
  clusters: number;
  rows: number;
  measured: number;
}

/** How long each part of the run took, for the estimate at full size. */
export interface Phases {
  stores: number;
  load: number;
  /** The measured steps: wall time, and the sinks' own part of it. */
  steps: number;
  stepsSink: number;
  day: number;
}

/**
 * An upper bound of the run's time at 200 x 50,000 rows, part by part, at this run's pace:
 * building stores and the sinks' own work scaled with a cluster's rows, the synthetic loads and
 * churn with the synthetic clusters' rows, as if none of their time were fixed (most of a small
 * churn's is: a connection and a commit); process start-up, checkpoints and statistics as they
 * were. A day's round lasts as long as the slower of its exporters and its churn.
 * docs/benchmarks.md gives the estimate from throughputs; the lead's full run is the measurement.
 */
export function fullSizeEstimate(total: number, p: Phases, rounds: readonly RoundFigures[], run: RunSize): number {
  const clusterScale = FULL.rows / run.rows;
  const syntheticScale = ((FULL.clusters - run.measured) * FULL.rows) / ((run.clusters - run.measured) * run.rows);
  const fixedOfDay = p.day - rounds.reduce((n, r) => n + Math.max(r.churnMs, r.exportMs), 0);
  const dayAtFull = fixedOfDay + rounds.reduce((n, r) => n + Math.max(r.churnMs * syntheticScale, r.exportMs * clusterScale), 0);
  return (
    total -
    p.stores -
    p.load -
    p.stepsSink -
    p.day +
    p.stores * clusterScale +
    p.load * ((FULL.clusters * FULL.rows) / (run.clusters * run.rows)) +
    p.stepsSink * clusterScale +
    dayAtFull
  );
}
