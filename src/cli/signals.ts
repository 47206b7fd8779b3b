import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Runs `work` with an AbortSignal that fires on SIGTERM (a CronJob's deadline) or SIGINT, so
 * transactions roll back and nothing half-written remains. A second signal exits at once.
 */
export async function withSignals<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals): void => {
    if (controller.signal.aborted) process.exit(130);
    process.stderr.write(`kollect: ${signal} received, stopping (rolling back what is in flight)\n`);
    controller.abort(new Error(`${signal} received`));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  }
}

/** A sleep that ends early, rejecting, when the run is aborted (a retry's backoff must not outlive SIGTERM). */
export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return sleep(ms, undefined, signal ? { signal } : {});
}
