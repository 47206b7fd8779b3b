import { toKollectError, type KollectError } from '../errors.js';
import type { Logger } from '../log.js';
import type { KollectMetrics } from '../metrics/metrics.js';
import type { CollectStore } from '../store/collect-store.js';
import { SharedRenders } from './document/shared-renders.js';
import type { Sink, SinkContext, SinkPlan, SinkResult } from './sink.js';

/**
 * Bytes of rendered documents held for document sinks that are behind, past which one ahead waits
 * for them (SharedRenders). The Git sink starts rendering after it has opened and fetched its
 * mirror, so it follows the file sink a few documents behind.
 */
const SHARED_RENDER_BYTES = 16 << 20;

/** One sink's outcome: its result (or plan, on a dry run), or the error it failed with. */
export type SinkOutcome =
  { sink: string; type: Sink['type']; ok: true; result: SinkResult | SinkPlan } | { sink: string; type: Sink['type']; ok: false; error: KollectError };

/**
 * Runs every sink against the store, independently: one failing does not stop the others; the
 * caller turns any failure into exit code 1. With `dryRun`, only `plan()` is called.
 */
export async function runSinks(
  store: CollectStore,
  sinks: readonly Sink[],
  ctx: SinkContext & { dryRun: boolean; metrics: KollectMetrics; log: Logger },
): Promise<SinkOutcome[]> {
  const cluster = store.cluster;
  // Every document sink writes the same documents: rendered once, for all of them. The claims are
  // made before any sink starts, so that the first document is held for the last sink to start.
  const renders = new SharedRenders(store, SHARED_RENDER_BYTES);
  return Promise.all(
    sinks.map(async (sink): Promise<SinkOutcome> => {
      const documents = sink.sharesDocuments ? renders.claim() : undefined;
      const sinkCtx = { ...ctx, documents };
      const labels = { cluster, sink: sink.name, type: sink.type };
      // A zero, not no series: every run publishes what it did (the textfile, the Pushgateway
      // group it replaces), and a sink that did not fail must show 0 there, not nothing.
      if (!ctx.dryRun) ctx.metrics.sinkErrors.inc(labels, 0);
      const stopTimer = ctx.dryRun ? undefined : ctx.metrics.exportDuration.startTimer(labels);
      try {
        // A failed attempt is timed too: a sink that hangs until it fails is what the duration
        // must show (kollect_sink_errors_total tells a failure from a success).
        const result = ctx.dryRun ? await sink.plan(store, sinkCtx) : await sink.apply(store, sinkCtx).finally(() => stopTimer?.());
        if (!ctx.dryRun) {
          for (const [operation, value] of Object.entries(result.totals)) {
            ctx.metrics.exportOperations.inc({ ...labels, unit: result.unit, operation }, value);
          }
          // A sink that may alter values reports a count, 0 included, so its series always exists.
          if (result.replaced) ctx.metrics.valuesReplaced.inc(labels, result.replaced.count);
          ctx.metrics.lastSuccess.set(labels, ctx.now().getTime() / 1000);
        }
        return { sink: sink.name, type: sink.type, ok: true, result };
      } catch (error) {
        const failure = toKollectError(error);
        if (!ctx.dryRun) ctx.metrics.sinkErrors.inc(labels);
        ctx.log.error(`sink ${sink.name} failed`, { sink: sink.name, code: failure.code, message: failure.message });
        return { sink: sink.name, type: sink.type, ok: false, error: failure };
      } finally {
        // A sink that skipped or failed takes no more documents: the others must not wait for it.
        documents?.release();
        await sink.close().catch((error: unknown) => ctx.log.warn(`closing sink ${sink.name} failed`, { message: String(error) }));
      }
    }),
  );
}
