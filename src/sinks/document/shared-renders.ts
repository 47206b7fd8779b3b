import type { CollectStore } from '../../store/collect-store.js';
import { buildShardDocument } from './shard-document.js';

/**
 * One sink's share of a run's rendered shard documents (SharedRenders). Every document sink of a
 * run writes the same document for a shard when nothing is carried over; each takes it from here.
 */
export interface DocumentClaim {
  /**
   * The store's document for a shard (nothing carried over). Shards are taken in store order;
   * asking for a shard passes every shard before it. A shard asked for again (a Git push retried)
   * is rendered anew for this claim alone.
   */
  take(shardKey: string): Promise<Buffer | undefined>;
  /** No more takes: nothing is held for this claim any longer. A claim must be released, whatever became of its sink; twice is harmless. */
  release(): void;
}

/** A document rendered for the claims that have not passed its shard yet. */
interface Held {
  document: Promise<Buffer | undefined>;
  /** Its length, once rendered. */
  bytes: number;
}

/**
 * The shard documents of one run, rendered once for every document sink of the run. A document
 * is held until every claim has taken it, passed its shard or been released; a claim that runs
 * ahead of another waits, once the documents held for the slower ones pass `maxHeldBytes`, rather
 * than the slower one rendering them again. The slowest claim never waits, so the claims always
 * move on, and memory stays bounded: by `maxHeldBytes` and one document per claim.
 */
export class SharedRenders {
  readonly #store: CollectStore;
  readonly #maxHeldBytes: number;
  /** Shard key to its place in the store's order. */
  readonly #order: Map<string, number>;
  /** Active claims to how many shards each has passed, in store order. */
  readonly #passed = new Map<DocumentClaim, number>();
  /** Held documents by their shard's place in store order. */
  readonly #held = new Map<number, Held>();
  #heldBytes = 0;
  /** Claims waiting for documents to go. */
  #waiting: Array<() => void> = [];

  constructor(store: CollectStore, maxHeldBytes: number) {
    this.#store = store;
    this.#maxHeldBytes = maxHeldBytes;
    this.#order = new Map(store.shards.map((shard, index) => [shard.key, index]));
  }

  /** A claim for one sink, made before any sink starts rendering, so that documents are held for it from the first. */
  claim(): DocumentClaim {
    const claim: DocumentClaim = {
      take: (shardKey) => this.#take(claim, shardKey),
      release: () => {
        if (this.#passed.delete(claim)) this.#prune();
      },
    };
    this.#passed.set(claim, 0);
    return claim;
  }

  async #take(claim: DocumentClaim, shardKey: string): Promise<Buffer | undefined> {
    const index = this.#order.get(shardKey);
    const passed = this.#passed.get(claim);
    if (index === undefined || passed === undefined || index < passed) return buildShardDocument(this.#store, shardKey, undefined);
    this.#pass(claim, index);
    for (;;) {
      const held = this.#held.get(index);
      if (held) {
        this.#pass(claim, index + 1);
        return held.document;
      }
      if (this.#bytesHeldBefore(index) <= this.#maxHeldBytes) break;
      await new Promise<void>((resume) => this.#waiting.push(resume));
      // Released while waiting (its sink failed): it takes nothing from the others any more.
      if (!this.#passed.has(claim)) return buildShardDocument(this.#store, shardKey, undefined);
    }
    const held: Held = { document: buildShardDocument(this.#store, shardKey, undefined), bytes: 0 };
    this.#held.set(index, held);
    held.document.then(
      (document) => {
        if (this.#held.get(index) !== held) return;
        held.bytes = document?.length ?? 0;
        this.#heldBytes += held.bytes;
      },
      // The claims still to come render it for themselves, and meet the failure there if it stays.
      () => this.#drop(index, held),
    );
    this.#pass(claim, index + 1);
    return held.document;
  }

  #pass(claim: DocumentClaim, passed: number): void {
    this.#passed.set(claim, passed);
    this.#prune();
  }

  /** Bytes held for shards before `index`: those a claim asking for `index` has passed and others have not. */
  #bytesHeldBefore(index: number): number {
    if (this.#heldBytes <= this.#maxHeldBytes) return this.#heldBytes;
    let bytes = 0;
    for (const [at, held] of this.#held) if (at < index) bytes += held.bytes;
    return bytes;
  }

  /** Drops the documents every active claim has passed, and lets waiting claims look again. */
  #prune(): void {
    const slowest = Math.min(...this.#passed.values());
    for (const [index, held] of this.#held) if (index < slowest) this.#drop(index, held);
  }

  #drop(index: number, held: Held): void {
    if (this.#held.get(index) !== held) return;
    this.#held.delete(index);
    this.#heldBytes -= held.bytes;
    const waiting = this.#waiting;
    this.#waiting = [];
    for (const resume of waiting) resume();
  }
}
