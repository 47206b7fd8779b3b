import { join, resolve } from 'node:path';
import type { HttpClient } from 'isomorphic-git';
import nodeHttp from 'isomorphic-git/http/node';
import type { GitSinkConfig } from './config.js';
import { InterruptedError, KollectError, SinkError } from '../../errors.js';
import { redact, redactUrl, splitQuery, urlSecrets } from '../../redact.js';
import type { CollectStore } from '../../store/collect-store.js';
import { compareDocuments, type DocumentMemo } from '../document/compare-documents.js';
import type { FileChanges } from '../document/file-changes.js';
import { shardPathLayout, type ShardPathLayout } from '../document/shard-path.js';
import { withDuration, type Sink, type SinkContext, type SinkPlan, type SkipReason } from '../sink.js';
import { addRowDelta, changeSummary, rowDelta, type RowDelta } from './change-summary.js';
import { authHandlers, readCredentials, type AuthHandlers } from './git-auth.js';
import { blobOid, MAX_COMMITS_PER_CLONE, MAX_PACKS, Mirror } from './mirror.js';
import { withMirrorLock } from './mirror-lock.js';
import { loadState, saveState, type GitSinkState, type RefState } from './sink-state.js';
import { isAuthError, isLostRace, pushRefusal, remoteError, type ShownRemote } from './remote-errors.js';
import { isRequestTimeout, remoteHttp } from './remote-http.js';
import { payloadFingerprint, skippedPlan, skipReason } from '../document/skip-decision.js';
import { streamingHttp } from './streaming-http.js';
import { trustingConfiguredCa } from './git-tls.js';

/**
 * The Git sink: hourly audit snapshots of a cluster's shards in a shared repository, one
 * deterministic file per shard at `pathTemplate`, one commit and one push per export.
 *
 * An export is skipped before any network request when the payload fingerprint equals the one
 * last pushed for the ref, or when the ref's `exportMinInterval` has not passed. Otherwise the
 * persistent mirror is fetched, this cluster's files are written as blobs and trees directly
 * (no working tree), committed once and pushed fast-forward; a push rejected because another
 * cluster pushed first is fetched, re-applied on the new head and retried.
 */

export interface GitSinkDeps {
  /** isomorphic-git HTTP client; defaults to `isomorphic-git/http/node`. */
  http?: HttpClient;
  /** Where secrets referenced as `{env}` and `KOLLECT_GIT_MIRROR_DIR` are looked up. */
  env?: NodeJS.ProcessEnv;
  sleep?: (ms: number) => Promise<void>;
  /** Jitter source in [0, 1). */
  random?: () => number;
}

/** The mirror folder of a sink: `mirrorDir`, else `$KOLLECT_GIT_MIRROR_DIR/<name>`, else `.kollect/git/<name>`. */
export function gitMirrorDir(config: GitSinkConfig, env: NodeJS.ProcessEnv = process.env): string {
  if (config.mirrorDir) return resolve(config.mirrorDir);
  const base = env.KOLLECT_GIT_MIRROR_DIR;
  return resolve(base ? join(base, config.name) : join('.kollect', 'git', config.name));
}

/** The difference between the store and a tree: per shard, what happens to its file. */
interface Diff {
  files: FileChanges;
  /** Rows that change, counted only when applying (for the commit message). */
  rows: RowDelta;
  /** Path to new blob oid, or null to remove. Only files that change. */
  changes: Map<string, string | null>;
  /** Shard memos after the export (for the state). */
  memos: Record<string, DocumentMemo>;
}

/** Why the mirror cannot serve an export as it is. */
type MirrorProblem = 'missing' | 'foreign' | 'damaged';

const MIRROR_PROBLEMS: Record<MirrorProblem, { level: 'info' | 'warn'; message: string }> = {
  missing: { level: 'info', message: 'git mirror not yet cloned' },
  foreign: { level: 'warn', message: 'git mirror points at another remote' },
  damaged: { level: 'warn', message: 'git mirror is damaged' },
};

/** A mirror as found before an export: its head and this cluster's files there (checked), or what is wrong with it. */
type MirrorFound = { head: string | undefined; files: Map<string, string> } | { problem: MirrorProblem; data: Record<string, unknown> };

const defaultSleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

export function createGitSink(config: GitSinkConfig, deps: GitSinkDeps = {}): Sink {
  const env = deps.env ?? process.env;
  // Pushes stream the pack isomorphic-git built instead of copying it whole twice more.
  const http = streamingHttp(deps.http ?? nodeHttp);
  const sleep = deps.sleep ?? defaultSleep;
  const random = deps.random ?? Math.random;
  const mirrorDir = gitMirrorDir(config, env);
  // Query credentials (`?access_token=`) go with each request only: the URL kept in the mirror's
  // config and the sink's state is `remote.url`, and every message shows `shownUrl`.
  const remote = splitQuery(config.url);
  const shownUrl = redactUrl(config.url);
  const secrets = urlSecrets(config.url);
  const where = { url: shownUrl, ref: config.ref, mirrorDir };
  const shown: ShownRemote = { query: remote.query, shownUrl, secrets, where };
  const wrapNetwork = (error: unknown, auth: AuthHandlers, step: 'fetch' | 'push'): Error => remoteError(config, shown, error, auth, step);
  const skipOf = (store: CollectStore, state: GitSinkState, fingerprint: string, ctx: SinkContext, now: Date): SkipReason | undefined =>
    skipReason(config, state.refs[config.ref], { url: remote.url, cluster: store.cluster, fingerprint, force: ctx.force, now });

  const checkAbort = (ctx: SinkContext, step: string): void => {
    if (ctx.signal.aborted) throw new InterruptedError(`sink "${config.name}": git export interrupted ${step}; nothing was pushed`, { sink: config.name });
  };

  /**
   * Compares the store with `existing`, the files under this cluster's prefix in the tree the
   * export builds on (path to blob oid), through the document engine. When `applying`, new
   * contents are written as blobs into the mirror as they are rendered (one file in memory at a
   * time) and the rows that change are counted for the commit message; when planning, files are
   * only hashed.
   */
  async function diff(
    store: CollectStore,
    mirror: Mirror,
    layout: ShardPathLayout,
    existing: Map<string, string>,
    last: RefState | undefined,
    applying: boolean,
    ctx: SinkContext,
  ): Promise<Diff> {
    const rows: RowDelta = { added: 0, updated: 0, removed: 0 };
    const changes = new Map<string, string | null>();
    const backend = { existing, read: async (_path: string, oid: string) => (await mirror.readBlob(oid)).toString('utf8'), versionOf: blobOid };
    const compared = await compareDocuments(store, backend, {
      layout,
      memos: last && last.cluster === store.cluster ? last.shards : {},
      readBefore: applying,
      checkAbort: () => checkAbort(ctx, 'while rendering files'),
      claim: ctx.documents,
      onForeign: (path) => ctx.log.debug("git sink leaves a file that matches the path template but is not this cluster's", { sink: config.name, path }),
      write: async (change) => {
        changes.set(change.path, change.version ?? null);
        if (!applying) return;
        if (change.bytes && change.version) await mirror.writeBlob(change.bytes, change.version);
        // A new file holds the store's rows and nothing else (nothing to carry over): no parse.
        if (change.action === 'add') rows.added += store.shard(change.shard)?.rows ?? 0;
        else addRowDelta(rows, rowDelta(change.before, change.bytes?.toString('utf8')));
      },
    });
    return { files: compared.files, rows, changes, memos: compared.memos };
  }

  async function rememberExport(
    state: GitSinkState,
    store: CollectStore,
    fingerprint: string,
    now: Date,
    commit: string | undefined,
    memos: Record<string, DocumentMemo>,
  ): Promise<void> {
    state.refs[config.ref] = { url: remote.url, cluster: store.cluster, fingerprint, exportedAt: now.toISOString(), commit: commit ?? null, shards: memos };
    await saveState(mirrorDir, state);
  }

  /** Looks at the mirror, changing nothing: plan() compares with what it finds, apply() opens it. */
  async function findMirror(mirror: Mirror, layout: ShardPathLayout): Promise<MirrorFound> {
    if (!(await mirror.exists())) return { problem: 'missing', data: {} };
    try {
      const url = await mirror.remoteUrl();
      // A mirror of an older kollect may hold query credentials in its URL: foreign, recloned without them.
      if (url !== remote.url) return { problem: 'foreign', data: { mirrorUrl: url === undefined ? null : redactUrl(url), url: shownUrl } };
      const head = await mirror.head();
      return { head, files: head ? await mirror.checkedFiles(head, layout.prefix) : new Map<string, string>() };
    } catch (error) {
      return { problem: 'damaged', data: { error: redact((error as Error).message, secrets) } };
    }
  }

  /**
   * Opens the mirror for an export: creates it, or recreates it when foreign, damaged or grown
   * (isomorphic-git has no gc: packs and loose objects only accumulate). Returns its head and
   * this cluster's files there; `fresh` when the mirror starts afresh (empty).
   */
  async function openMirror(
    mirror: Mirror,
    layout: ShardPathLayout,
    state: GitSinkState,
    ctx: SinkContext,
  ): Promise<{ fresh: boolean; head: string | undefined; files: Map<string, string> }> {
    const reclone = async (level: 'info' | 'warn', message: string, data: Record<string, unknown>) => {
      ctx.log[level](message, { sink: config.name, mirrorDir, ...data });
      await mirror.create();
      return { fresh: true, head: undefined, files: new Map<string, string>() };
    };
    const found = await findMirror(mirror, layout);
    if ('problem' in found) {
      const { level, message } = MIRROR_PROBLEMS[found.problem];
      return reclone(level, `${message}: ${found.problem === 'missing' ? 'cloning' : 'recloning'}`, found.data);
    }
    const packs = await mirror.packCount();
    if (packs > MAX_PACKS) return reclone('info', 'git mirror holds many packs: recloning to compact it', { packs });
    if ((state.mirrorCommits ?? 0) >= MAX_COMMITS_PER_CLONE)
      return reclone('info', 'git mirror holds many loose objects: recloning to compact it', { commits: state.mirrorCommits });
    await mirror.discardStaged();
    return { fresh: false, ...found };
  }

  async function apply(store: CollectStore, ctx: SinkContext): Promise<SinkPlan> {
    const now = ctx.now();
    const state = await loadState(mirrorDir);
    const fingerprint = payloadFingerprint(store, config.pathTemplate);
    const skipped = skipOf(store, state, fingerprint, ctx, now);
    if (skipped) return skippedPlan(config, store, skipped);
    const layout = shardPathLayout(config.pathTemplate, store.cluster, config.name);

    const auth = authHandlers(await readCredentials(config, env));
    const requests = { sink: config.name, query: remote.query, timeoutMs: config.requestTimeout, signal: ctx.signal };
    const mirror = new Mirror({ mirrorDir, url: remote.url, ref: config.ref, http: remoteHttp(await trustingConfiguredCa(http, config), requests), auth });
    checkAbort(ctx, 'before fetching');
    // Where an export spends its time, logged with the push (see docs/git.md, benchmark).
    const timings: Record<string, number> = {};
    let mark = performance.now();
    const lap = (phase: string): void => {
      const at = performance.now();
      timings[phase] = Math.round((timings[phase] ?? 0) + at - mark);
      mark = at;
    };
    const opened = await openMirror(mirror, layout, state, ctx);
    if (opened.fresh) state.mirrorCommits = 0;
    lap('open');
    for (let attempt = 0; ; attempt++) {
      checkAbort(ctx, 'before fetching');
      let head: string | undefined;
      try {
        head = await mirror.fetch();
        lap('fetch');
      } catch (error) {
        throw wrapNetwork(error, auth, 'fetch');
      }
      checkAbort(ctx, 'after fetching');
      // When the fetch brought no new head (no other writer), the files the open listed and checked are these.
      const existing = head === undefined ? new Map<string, string>() : head === opened.head ? opened.files : await mirror.listFiles(head, layout.prefix);
      const change = await diff(store, mirror, layout, existing, state.refs[config.ref], true, ctx);
      lap('render');
      const plan: SinkPlan = { sink: config.name, type: 'git', unit: 'files', totals: change.files.totals, shards: change.files.shards };
      if (change.changes.size === 0) {
        await rememberExport(state, store, fingerprint, now, head, change.memos);
        return { ...plan, skipped: { reason: 'unchanged', message: `${config.ref} already holds this content; nothing pushed` } };
      }
      const baseTree = head ? (await mirror.readTree(head)).oid : undefined;
      const tree = await mirror.updateTree(baseTree, change.changes);
      const message = `${config.message}: ${changeSummary(store.cluster, change.files.totals, change.rows, store.manifest.totals.rows)}`;
      const commit = await mirror.writeCommit({ tree, parent: head, author: config.author, message, when: ctx.now() });
      lap('commit');
      // Last moment to stop: past this point the push either lands whole or not at all.
      checkAbort(ctx, 'before pushing');
      try {
        await mirror.push(commit);
        lap('push');
      } catch (error) {
        const timedOut = isRequestTimeout(error);
        if (!timedOut && (!isLostRace(error) || isAuthError(error, auth))) throw wrapNetwork(error, auth, 'push');
        // A push whose answer timed out may have landed all the same.
        const landed = timedOut && (await landedAfterTimeout(mirror, commit, auth, ctx));
        if (!landed) {
          if (attempt >= config.pushRetries) {
            if (timedOut) throw error;
            const reason = pushRefusal(error) ?? 'not a fast-forward';
            throw new SinkError(
              config.name,
              `push to ${shownUrl} (${config.ref}) rejected ${attempt + 1} times (${reason}): another writer keeps moving the branch`,
              where,
              {
                cause: error,
                code: 'GIT_PUSH_REJECTED',
              },
            );
          }
          const delay = Math.round(200 * 2 ** attempt * (0.5 + random()));
          const why = timedOut ? 'git push timed out and the remote does not hold the commit' : 'git push rejected (the branch moved)';
          ctx.log.info(`${why}: fetching and retrying`, { sink: config.name, ref: config.ref, attempt: attempt + 1, delayMs: delay });
          await sleep(delay);
          lap('retryWait');
          continue;
        }
        lap('push');
      }
      state.mirrorCommits = (state.mirrorCommits ?? 0) + 1;
      await rememberExport(state, store, fingerprint, now, commit, change.memos);
      ctx.log.info('git export pushed', { sink: config.name, ref: config.ref, commit, ...change.files.totals, attempts: attempt + 1, timingsMs: timings });
      return plan;
    }
  }

  /**
   * After a push timed out: whether the remote took it anyway (a server slow to answer, e.g. a
   * long pre-receive hook), seen by a fetch: its branch names our commit.
   */
  async function landedAfterTimeout(mirror: Mirror, commit: string, auth: AuthHandlers, ctx: SinkContext): Promise<boolean> {
    let head: string | undefined;
    try {
      head = await mirror.fetch();
    } catch (error) {
      throw wrapNetwork(error, auth, 'fetch');
    }
    if (head === commit) ctx.log.warn('git push timed out, but the remote holds the commit: it landed', { sink: config.name, ref: config.ref, commit });
    return head === commit;
  }

  /** Plans against the mirror as it is: no fetch, no write, no state. */
  async function plan(store: CollectStore, ctx: SinkContext): Promise<SinkPlan> {
    const state = await loadState(mirrorDir);
    const skipped = skipOf(store, state, payloadFingerprint(store, config.pathTemplate), ctx, ctx.now());
    if (skipped) return skippedPlan(config, store, skipped);
    const layout = shardPathLayout(config.pathTemplate, store.cluster, config.name);
    const mirror = new Mirror({ mirrorDir, url: remote.url, ref: config.ref, http, auth: authHandlers(undefined) });
    const found = await findMirror(mirror, layout);
    // Without a usable mirror the plan compares with an empty tree, as the (re)clone would start.
    if ('problem' in found) {
      const { level, message } = MIRROR_PROBLEMS[found.problem];
      const remedy = found.problem === 'missing' ? '' : ' (apply will reclone it)';
      ctx.log[level](`${message}${remedy}: planning against an empty tree, without fetching`, { sink: config.name, mirrorDir, ...found.data });
    } else {
      ctx.log.info('git plan compares with the mirror as last fetched, without fetching', { sink: config.name, head: found.head ?? null });
    }
    const change = await diff(store, mirror, layout, 'problem' in found ? new Map() : found.files, state.refs[config.ref], false, ctx);
    const result: SinkPlan = { sink: config.name, type: 'git', unit: 'files', totals: change.files.totals, shards: change.files.shards };
    if (change.changes.size === 0) result.skipped = { reason: 'unchanged', message: `${config.ref} already holds this content` };
    return result;
  }

  const wrap = async <T>(work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (error) {
      if (error instanceof KollectError) throw error;
      throw new SinkError(config.name, `git export failed: ${redact((error as Error).message, secrets)}`, where, { cause: error });
    }
  };

  return {
    name: config.name,
    type: 'git',
    sharesDocuments: true,
    plan: (store, ctx) => wrap(() => plan(store, ctx)),
    apply: (store, ctx) => wrap(() => withDuration(() => withMirrorLock(mirrorDir, config.name, ctx.log, () => apply(store, ctx)))),
    close: async () => undefined,
  };
}
