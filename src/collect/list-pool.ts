import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { ListSettings } from '../config/schema.js';
import type { ListBody } from '../kube/pager.js';
import type { Profile } from '../rows/profiles/profile.js';
import { fromWorkerError, type EncodeRequest, type EncodeResult, type EncoderSpec } from './list-protocol.js';
import type { ProjectedType } from '../rows/project.js';
import type { BodyEncoder, EncodedPage } from './list-rows.js';

/**
 * The worker's module: the compiled JavaScript beside this file, `list-worker.js` in dist/ and
 * `list-worker.cjs` in the bundle (scripts/bundle.ts), whose files end in .cjs. Running from the
 * TypeScript source (tests and benchmarks, under tsx), the worker must register tsx itself first:
 * Node 20 does not apply the parent's `--import tsx` hooks inside worker threads.
 */
function workerUrl(): URL {
  const extension = import.meta.url.slice(import.meta.url.lastIndexOf('.'));
  if (extension !== '.ts') return new URL(`./list-worker${extension}`, import.meta.url);
  const source = new URL('./list-worker.ts', import.meta.url).href;
  const bootstrap = `import { register } from ${JSON.stringify(import.meta.resolve('tsx/esm/api'))}; register(); await import(${JSON.stringify(source)});`;
  return new URL(`data:text/javascript,${encodeURIComponent(bootstrap)}`);
}

interface Pending {
  resolve: (page: EncodedPage) => void;
  reject: (error: unknown) => void;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Set once the worker is gone: why. */
  gone?: unknown;
}

/**
 * A page's bytes, ready to transfer: its own ArrayBuffer when it has one, else a copy (a small
 * Buffer may be a slice of Node's shared pool, which must not be detached).
 */
function transferable(body: Buffer): Uint8Array {
  if (body.byteOffset === 0 && body.byteLength === body.buffer.byteLength) return body;
  return new Uint8Array(body);
}

/**
 * List workers (src/collect/list-worker.ts): threads that parse pages and encode their rows, so
 * that the main thread only fetches and spools. Work is shared page by page, each to the worker
 * with the fewest pages in hand, so one large type (pods) is spread over every worker.
 */
export class ListPool {
  private readonly slots: Slot[];
  private nextRequest = 0;
  private nextEncoder = 0;
  private closing: Promise<void> | undefined;

  constructor(
    /** How many workers. */
    readonly size: number,
    private readonly signal: AbortSignal,
  ) {
    this.slots = Array.from({ length: size }, () => this.start());
    signal.addEventListener('abort', this.onAbort, { once: true });
  }

  /**
   * Pages of one list being encoded at once: with two or more workers, one large list (pods)
   * keeps two busy while its next page is on its way; memory stays a few pages per list.
   */
  get pagesInFlight(): number {
    return Math.min(this.size + 1, 3);
  }

  private readonly onAbort = (): void => {
    void this.close(this.signal.reason ?? new Error('aborted'));
  };

  private start(): Slot {
    // The worker logs nothing and writes nothing: it answers each page with lines or an error.
    const worker = new Worker(workerUrl(), { name: 'kollect-list' });
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (result: EncodeResult) => {
      const pending = slot.pending.get(result.id);
      slot.pending.delete(result.id);
      if ('error' in result) pending?.reject(fromWorkerError(result.error));
      else pending?.resolve({ page: result.page, rows: result.rows, refused: result.refused });
    });
    const gone = (why: unknown): void => {
      slot.gone ??= why;
      for (const pending of slot.pending.values()) pending.reject(slot.gone);
      slot.pending.clear();
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`a list worker stopped (exit code ${code})`)));
    return slot;
  }

  /** An encoder for one type's pages that hands each page to a worker. */
  encoder(cluster: string, type: ProjectedType, profile: Profile, fastParse: boolean): BodyEncoder {
    const spec: EncoderSpec = {
      id: ++this.nextEncoder,
      cluster,
      type: { group: type.group, version: type.version, resource: type.resource, kind: type.kind },
      profile,
      fastParse,
    };
    return (body) => this.encode(spec, body);
  }

  private encode(spec: EncoderSpec, page: ListBody): Promise<EncodedPage> {
    const slot = this.slots.reduce((a, b) => (b.pending.size < a.pending.size ? b : a));
    if (slot.gone !== undefined) return Promise.reject(slot.gone);
    const id = ++this.nextRequest;
    const body = transferable(page.body);
    const request: EncodeRequest = { id, encoder: spec, body, continue: page.continue, what: page.what };
    return new Promise((resolve, reject) => {
      slot.pending.set(id, { resolve, reject });
      slot.worker.postMessage(request, [body.buffer as ArrayBuffer]);
    });
  }

  /** Ends every worker; pages still being encoded fail with `reason`. */
  close(reason: unknown = new Error('the list pool was closed')): Promise<void> {
    this.closing ??= (async () => {
      this.signal.removeEventListener('abort', this.onAbort);
      for (const slot of this.slots) {
        slot.gone ??= reason;
        for (const pending of slot.pending.values()) pending.reject(reason);
        slot.pending.clear();
      }
      await Promise.all(this.slots.map((slot) => slot.worker.terminate()));
    })();
    return this.closing;
  }
}

/** Most list workers `auto` starts: past this the API server, not parsing, is the limit. */
const MAX_AUTO_WORKERS = 4;
/** Memory `auto` keeps for the main thread (the base CronJob's heap), and budgets per worker (its heap at pageSize 500, with room). */
const MAIN_THREAD_MIB = 320;
const WORKER_MIB = 128;

/** The container's memory limit in MiB, or undefined when there is none (Node reports 0 or 2^64). */
function memoryLimitMiB(): number | undefined {
  const bytes = process.constrainedMemory?.() ?? 0;
  return bytes > 0 && bytes < 2 ** 50 ? bytes / 2 ** 20 : undefined;
}

/**
 * How many list workers to start: never more than lists run at once (`concurrency`) or types to
 * list. `auto` leaves one core to the main thread (HTTP, the spool, and on a laptop often the
 * API server itself) and takes the others, at most 4, and no more than a container's memory
 * limit leaves room for; on a single core none: a worker would only add copying. On 2 cores one
 * worker beat both none and two (bench:collect): the second adds CPU and memory without a core
 * to run on.
 */
export function listWorkerCount(list: Pick<ListSettings, 'workers' | 'concurrency'>, types: number, cores: number, memoryMiB: number | undefined): number {
  const byMemory = memoryMiB === undefined ? MAX_AUTO_WORKERS : Math.floor((memoryMiB - MAIN_THREAD_MIB) / WORKER_MIB);
  const wanted = list.workers === 'auto' ? Math.min(cores - 1, MAX_AUTO_WORKERS, byMemory) : list.workers;
  return Math.max(0, Math.min(wanted, list.concurrency, types));
}

/**
 * A warning when `list.workers` was set to a number that the container's memory limit does not
 * leave room for (`auto` never starts more than fit): each worker's heap comes on top of the
 * main thread's, and a CronJob killed for memory exports nothing.
 */
export function workerMemoryWarning(list: Pick<ListSettings, 'workers'>, workers: number, memoryMiB: number | undefined): string | undefined {
  if (list.workers === 'auto' || workers === 0 || memoryMiB === undefined) return undefined;
  const needed = MAIN_THREAD_MIB + workers * WORKER_MIB;
  if (needed <= memoryMiB) return undefined;
  return (
    `list.workers ${workers} needs about ${needed} MiB (${MAIN_THREAD_MIB} for the main thread, ${WORKER_MIB} per worker) ` +
    `and the container's memory limit is ${Math.round(memoryMiB)} MiB: use list.workers auto, fewer workers, or a higher limit`
  );
}

/**
 * The pool's size for a run listing `types` resource types under these settings, and the warning
 * to log when a set number of workers does not fit the container's memory limit.
 */
export function listPoolSize(list: Pick<ListSettings, 'workers' | 'concurrency'>, types: number): { workers: number; memoryWarning?: string } {
  const memoryMiB = memoryLimitMiB();
  const workers = listWorkerCount(list, types, availableParallelism(), memoryMiB);
  const memoryWarning = workerMemoryWarning(list, workers, memoryMiB);
  return memoryWarning ? { workers, memoryWarning } : { workers };
}
