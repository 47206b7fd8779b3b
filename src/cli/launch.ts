/**
 * The process entry of the built CLI (bin/kollect): runs the CommonJS bundle of the CLI
 * (dist/bundle/main.cjs, scripts/bundle.ts) through a V8 code cache, so that a process does not
 * parse and compile the same 700 KB of JavaScript again at every start. Node 20 has no compile
 * cache of its own (`module.enableCompileCache` came with Node 22), and none for ES modules.
 * The vendored packages that main.cjs requires when a run needs them (`./vendor-*.cjs`: the
 * Kubernetes client, 1.2 MB, for every command that lists a cluster; isomorphic-git for the Git
 * sink) are compiled the same way, each with a cache of its own.
 *
 * The cache is made at the end of a successful run (`createCachedData` after the work, so it
 * holds every function the command compiled, not only the top level as v8-compile-cache's does,
 * which leaves most of a run's compiling to do again), one file per command, named after the
 * bundle's content hash, Node's version, the V8 flags and the bundle's folder: V8 itself checks
 * only the source's length, the V8 version and the flags, and a cache made under other flags is
 * rejected whole. A cache it accepts brings the file names it was made with, which stack traces
 * then show: two checkouts of one build (one cache folder per user) must not share a cache.
 *
 * Where: `KOLLECT_COMPILE_CACHE` (a folder, or `off`), else `$XDG_CACHE_HOME/kollect`, else
 * `~/.cache/kollect`. A cache is code this process runs, so it is read only from a folder that
 * belongs to this user and that no one else may write to. It only saves start-up time: a folder
 * that cannot be made or written (a read-only root filesystem) means no cache, never an error.
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Script } from 'node:vm';

/**
 * Set by scripts/bundle.ts: for main.cjs and each vendored file beside it, the first 16 hex digits
 * of its SHA-256. Only these files are compiled here; their caches are named after these hashes.
 */
declare const __KOLLECT_BUNDLE_HASHES__: Record<string, string>;

interface CliModule {
  main(argv: string[]): Promise<void>;
}

const BUNDLE = fileURLToPath(new URL('./main.cjs', import.meta.url));
const HASHES = new Map(Object.entries(__KOLLECT_BUNDLE_HASHES__));
const PREFIX = 'kollect-';

/** FNV-1a, 32 bits: to name a cache after the flags and versions, not to protect anything. */
function fnv1a(text: string): string {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) hash = Math.imul(hash ^ text.charCodeAt(i), 0x01000193) >>> 0;
  return hash.toString(16).padStart(8, '0');
}

function cacheFolder(): string | undefined {
  const setting = process.env.KOLLECT_COMPILE_CACHE;
  if (setting === 'off') return undefined;
  if (setting) return setting;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'kollect');
}

/** The folder, made if missing, when it is this user's and no one else may write to it. */
function privateFolder(folder: string): boolean {
  try {
    mkdirSync(folder, { recursive: true, mode: 0o700 });
    const stat = statSync(folder);
    return stat.isDirectory() && stat.uid === process.getuid?.() && (stat.mode & 0o022) === 0;
  } catch {
    // Unwritable or unreadable (read-only root filesystem, no home): run without a cache.
    return false;
  }
}

/**
 * A file's cache for a command: `kollect-<the file's hash>-<command>-<hash of node version, arch,
 * flags and the bundle's folder>.v8`. The folder is the one the files are compiled under: their
 * real path, as Node resolves an ES module's (launch.js's) links.
 */
function cacheFile(folder: string, fileHash: string, argv: readonly string[]): string {
  const word = argv[2] ?? '';
  const command = /^[a-z][a-z-]{0,31}$/.test(word) ? word : 'other';
  const runtime = fnv1a([process.version, process.arch, ...process.execArgv, process.env.NODE_OPTIONS ?? '', dirname(BUNDLE)].join('\0'));
  return join(folder, `${PREFIX}${fileHash}-${command}-${runtime}.v8`);
}

function readCache(file: string): Buffer | undefined {
  try {
    return readFileSync(file);
  } catch {
    // Not made yet (ENOENT) or unreadable: compile from the source, as without a cache.
    return undefined;
  }
}

/**
 * Writes the cache (synchronously: this runs in the process's 'exit' handler) beside its final
 * name, then renames it, so that a process started meanwhile reads a whole cache or none; drops
 * the caches of other builds of kollect.
 */
function writeCache(file: string, data: Buffer): void {
  const tmp = `${file}.tmp-${process.pid}`;
  try {
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, file);
    const folder = dirname(file);
    const current = [...HASHES.values()].map((hash) => `${PREFIX}${hash}-`);
    for (const name of readdirSync(folder)) {
      if (name.startsWith(PREFIX) && name.endsWith('.v8') && !current.some((prefix) => name.startsWith(prefix))) rmSync(join(folder, name), { force: true });
    }
  } catch {
    // A full disk or a folder gone meanwhile: the next run compiles again and retries.
    rmSync(tmp, { force: true });
  }
}

/** Where a run's caches go, or undefined for none (off, or no private folder). */
function cacheSlot(argv: readonly string[]): ((fileHash: string) => string) | undefined {
  const folder = cacheFolder();
  return folder !== undefined && privateFolder(folder) ? (fileHash) => cacheFile(folder, fileHash, argv) : undefined;
}

/**
 * Loads `path` (one of HASHES' files) as Node's CommonJS loader would, but compiled with
 * `cachedData`; its `require` loads the other files of HASHES the same way, each once.
 */
function loadWithCache(path: string, cacheOf: ((fileHash: string) => string) | undefined, loaded: Map<string, Module>): Module {
  const known = loaded.get(path);
  if (known) return known;
  const hash = HASHES.get(basename(path));
  const file = cacheOf === undefined || hash === undefined ? undefined : cacheOf(hash);
  const cachedData = file === undefined ? undefined : readCache(file);
  const script = new Script(Module.wrap(readFileSync(path, 'utf8')), { filename: path, cachedData });
  const module = new Module(path);
  module.filename = path;
  // Registered before it runs, as Node's loader does, so that a cycle gets the partial exports.
  loaded.set(path, module);
  const nodeRequire = createRequire(path);
  // Every file of HASHES lies beside main.cjs, which requires the others as `./vendor-*.cjs`.
  const require = Object.assign((id: string): unknown => (HASHES.has(id.slice(2)) && id.startsWith('./') ? loadWithCache(join(dirname(BUNDLE), id.slice(2)), cacheOf, loaded).exports : nodeRequire(id)), nodeRequire);
  const wrapper = script.runInThisContext() as (exports: unknown, require: NodeJS.Require, module: Module, filename: string, dirname: string) => void;
  wrapper.call(module.exports, module.exports, require, module, path, dirname(path));
  module.loaded = true;
  if (file !== undefined && (cachedData === undefined || script.cachedDataRejected === true)) {
    process.once('exit', (code) => {
      // A run that failed early compiled little of the command: a cache of it would stay.
      if (code === 0) writeCache(file, script.createCachedData());
    });
  }
  return module;
}

export function launch(argv: string[]): Promise<void> {
  // Source maps (`--enable-source-maps`) apply to what Node's own loader compiles, not to a vm.Script.
  const cli = (process.sourceMapsEnabled ? createRequire(import.meta.url)(BUNDLE) : loadWithCache(BUNDLE, cacheSlot(argv), new Map()).exports) as CliModule;
  return cli.main(argv);
}
