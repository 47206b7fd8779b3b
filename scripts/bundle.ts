/**
 * The second half of `npm run build`: bundles the CLI into dist/bundle/ with esbuild, so that a
 * `kollect` process loads a few files instead of the several hundred modules of dist/ and
 * node_modules (zod, yaml, prom-client, commander...) that Node's ESM loader resolves and reads
 * one by one. dist/ as tsc emits it stays: tests and benchmarks import its modules.
 *
 * Entry points: the CLI (main.js, imported by bin/kollect) and the list worker (list-worker.js,
 * started by src/collect/list-pool.ts as `new URL('./list-worker.js', import.meta.url)`: every
 * chunk lands flat in dist/bundle/, so the worker sits beside whichever chunk holds that code).
 * With splitting, each dynamic `import()` (a sink, the Kubernetes client, ora) stays a chunk of
 * its own, loaded only when a run needs it.
 *
 * `npx tsx scripts/bundle.ts --analyze` also prints what each output file is made of.
 */
import { readFileSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { analyzeMetafile, build, type Plugin } from 'esbuild';

const root = fileURLToPath(new URL('..', import.meta.url));
const outdir = `${root}dist/bundle`;
const { version } = JSON.parse(readFileSync(`${root}package.json`, 'utf8')) as { version: string };

// Chunk names carry a content hash: clear the previous build's.
rmSync(outdir, { recursive: true, force: true });

/**
 * prom-client's index loads all of it (default process metrics with the OpenTelemetry API, the
 * cluster aggregator, summaries): under callgrind, about 5% of an export's instructions. The
 * bundle takes the classes kollect uses from their own modules (scripts/support/prom-client-lean.cjs).
 * Only the bare name is redirected: the shim's own `prom-client/lib/...` requires resolve as usual.
 */
const promClientLean: Plugin = {
  name: 'prom-client-lean',
  setup(bundle) {
    bundle.onResolve({ filter: /^prom-client$/ }, () => ({ path: `${root}scripts/support/prom-client-lean.cjs` }));
  },
};

const result = await build({
  absWorkingDir: root,
  entryPoints: { main: 'src/cli/main.ts', 'list-worker': 'src/collect/list-worker.ts' },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  // Bundled CommonJS packages require Node's built-ins; ESM has no `require` of its own.
  banner: { js: "import { createRequire as __kollectCreateRequire } from 'node:module';\nconst require = __kollectCreateRequire(import.meta.url);" },
  // src/version.ts reads package.json beside dist/ otherwise; the bundle is one level deeper.
  //
  // `navigator` is the one Node 21 and later define (Node 20 has none): pg probes for Cloudflare
  // Workers at load (lib/stream.js) by asking for navigator.userAgent and, failing that, by making
  // a `Response`, which on Node 20 loads Node's fetch implementation (undici): about 35 ms of CPU
  // in every process that exports to Postgres, for a probe whose answer is always no. The other
  // readers of navigator (browser checks in the Kubernetes client's dependencies) read a user
  // agent that names no browser, as Node 21's `Node.js/21` does.
  define: { __KOLLECT_VERSION__: JSON.stringify(version), navigator: JSON.stringify({ userAgent: 'Node.js' }) },
  // Error classes name themselves after their class (KollectError: `new.target.name`), and
  // bundling renames a declaration whose name another module also uses. About 5 ms of start-up.
  keepNames: true,
  // Half the bytes for V8 to parse at start-up: under callgrind, 2-2.5% fewer instructions for a
  // whole `shard-report` process (about 1,080 against 1,055 million). Identifiers stay as they
  // are: minifying them as well measured no better. Stack traces keep their function names;
  // `--enable-source-maps` maps lines back to the sources.
  minifyWhitespace: true,
  minifySyntax: true,
  // Optional native binding of pg, required only when `pg.native` is used (never by kollect).
  // Optional packages required inside try/catch (ws's bufferutil and utf-8-validate, node-fetch's
  // encoding) are left to run time by esbuild itself, and fail there as before: none is installed.
  // Whatever is external and must load has to be installed in the image (Dockerfile): none now.
  external: ['pg-native'],
  plugins: [promClientLean],
  // Maps for `node --enable-source-maps` (not on by default: about 10 ms of start-up per process);
  // file names and lines are enough for a stack trace, so the sources are not copied in.
  sourcemap: true,
  sourcesContent: false,
  metafile: process.argv.includes('--analyze'),
  logLevel: 'warning',
});

if (result.metafile) process.stdout.write(await analyzeMetafile(result.metafile));
