/**
 * The second half of `npm run build`: bundles the CLI into dist/bundle/ with esbuild, so that a
 * `kollect` process loads a few files instead of the several hundred modules of dist/ and
 * node_modules (zod, yaml, prom-client, commander...) that Node's ESM loader resolves and reads
 * one by one. dist/ as tsc emits it stays: tests and benchmarks import its modules.
 *
 * Three builds:
 * - the CLI (main.cjs) and the list worker (list-worker.cjs, started by src/collect/list-pool.ts
 *   beside the file that holds its code), each one CommonJS file with everything it uses, so that
 *   the vendored files are `require`d only where and when a run needs them;
 * - the largest packages, each a file of its own (VENDORED below);
 * - the launcher (launch.js, imported by bin/kollect, src/cli/launch.ts), which turns on Node's
 *   compile cache and runs main.cjs.
 *
 * `npx tsx scripts/bundle.ts --analyze` also prints what each output file is made of.
 */
import { readFileSync, rmSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
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

/**
 * The largest packages, each a CommonJS file of its own that main.cjs requires only when a run
 * needs it (vendor-*.cjs, beside main.cjs): the Kubernetes client (as src/kube/client-node.ts
 * re-exports it), isomorphic-git and the AWS SDK's S3 client. Inside main.cjs they would be parsed with it whenever V8
 * compiles it without a code cache (a first run, or every run where no cache
 * folder persists): under callgrind, about 45% more instructions for an unchanged export to
 * Postgres. They share no class with kollect's own code, so that the copies of a dependency that
 * both hold cannot be told apart. Keys: the specifier as imported, or the source module's path.
 */
const VENDORED: Record<string, { file: string; entry: string }> = {
  'src/kube/client-node.ts': { file: 'vendor-kube-client', entry: 'src/kube/client-node.ts' },
  'isomorphic-git': { file: 'vendor-isomorphic-git', entry: fileURLToPath(import.meta.resolve('isomorphic-git')) },
  'isomorphic-git/http/node': { file: 'vendor-isomorphic-git-http', entry: fileURLToPath(import.meta.resolve('isomorphic-git/http/node')) },
  // Only src/sinks/s3/ imports it (lint enforces), and only an s3 sink loads that folder.
  '@aws-sdk/client-s3': { file: 'vendor-aws-s3', entry: fileURLToPath(import.meta.resolve('@aws-sdk/client-s3')) },
};
/** What an import of a VENDORED key looks like: the specifier, or a source module imported from its own folder (`./client-node.js`). */
const VENDORED_IMPORT = new RegExp(
  `^(${Object.keys(VENDORED)
    .map((key) => (key.startsWith('src/') ? `./${basename(key, '.ts')}.js` : key).replace(/[.*+?^${}()|[\]\\/]/g, '\\$&'))
    .join('|')})$`,
);
const vendored: Plugin = {
  name: 'vendored',
  setup(bundle) {
    bundle.onResolve({ filter: VENDORED_IMPORT }, ({ path, resolveDir }) => {
      const key = path.startsWith('.') ? relative(root, join(resolveDir, path)).replace(/\.js$/, '.ts') : path;
      const vendor = VENDORED[key];
      return vendor ? { path: `./${vendor.file}.cjs`, external: true } : undefined;
    });
  },
};

/** What every build shares. */
const SHARED = {
  absWorkingDir: root,
  outdir,
  bundle: true,
  platform: 'node',
  target: 'node20',
  // Half the bytes for V8 to parse at start-up: under callgrind, 2-2.5% fewer instructions for a
  // whole `shard-report` process (about 1,080 against 1,055 million). Identifiers stay as they
  // are: minifying them as well measured no better. Stack traces keep their function names;
  // `--enable-source-maps` maps lines back to the sources.
  minifyWhitespace: true,
  minifySyntax: true,
  metafile: process.argv.includes('--analyze'),
  logLevel: 'warning',
} as const;

/**
 * The CLI's and the vendored packages' builds: CommonJS files, each with all it uses, and maps for
 * `node --enable-source-maps` (not on by default: about 10 ms of start-up per process); file names
 * and lines are enough for a stack trace, so the sources are not copied in.
 */
const COMMONJS = { ...SHARED, outExtension: { '.js': '.cjs' }, format: 'cjs', sourcemap: true, sourcesContent: false } as const;

/**
 * `navigator` is the one Node 21 and later define (Node 20 has none): pg probes for Cloudflare
 * Workers at load (lib/stream.js) by asking for navigator.userAgent and, failing that, by making a
 * `Response`, which on Node 20 loads Node's fetch implementation (undici): about 35 ms of CPU in
 * every process that exports to Postgres, for a probe whose answer is always no. The other readers
 * of navigator (browser checks in the Kubernetes client's dependencies) read a user agent that
 * names no browser, as Node 21's `Node.js/21` does.
 */
const NAVIGATOR = { navigator: JSON.stringify({ userAgent: 'Node.js' }) };

const cli = await build({
  ...COMMONJS,
  entryPoints: { main: 'src/cli/main.ts', 'list-worker': 'src/collect/list-worker.ts' },
  // The sources are ES modules that find files beside themselves by import.meta.url (the list
  // worker): in a CommonJS file, that is the file's own URL. (The one import.meta.resolve left
  // is in list-pool.ts's branch for the TypeScript sources, which a bundle never takes.)
  banner: { js: "const __kollectImportMetaUrl = require('node:url').pathToFileURL(__filename).href;" },
  logOverride: { 'empty-import-meta': 'silent' },
  // src/version.ts reads package.json beside dist/ otherwise; the bundle is one level deeper.
  define: { ...NAVIGATOR, __KOLLECT_VERSION__: JSON.stringify(version), 'import.meta.url': '__kollectImportMetaUrl' },
  // Error classes name themselves after their class (KollectError: `new.target.name`), and
  // bundling renames a declaration whose name another module also uses. About 5 ms of start-up.
  keepNames: true,
  // Optional native binding of pg, required only when `pg.native` is used (never by kollect).
  // Optional packages required inside try/catch (ws's bufferutil and utf-8-validate, node-fetch's
  // encoding) are left to run time by esbuild itself, and fail there as before: none is installed.
  // Whatever is external and must load has to be installed in the image (Dockerfile): none now.
  external: ['pg-native'],
  plugins: [promClientLean, vendored],
});

const vendors = await build({
  ...COMMONJS,
  entryPoints: Object.fromEntries(Object.values(VENDORED).map(({ file, entry }) => [file, entry])),
  define: NAVIGATOR,
});

const launcher = await build({ ...SHARED, entryPoints: { launch: 'src/cli/launch.ts' }, format: 'esm' });

for (const { metafile } of [cli, vendors, launcher]) if (metafile) process.stdout.write(await analyzeMetafile(metafile));
