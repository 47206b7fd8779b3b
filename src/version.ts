import { readFileSync } from 'node:fs';

/** Set by the bundler (scripts/bundle.ts) to package.json's version; absent in dist/ as tsc emits it. */
declare const __KOLLECT_VERSION__: string | undefined;

/** The package version: built into the bundle, else read once from package.json beside the build output. */
export const VERSION: string =
  typeof __KOLLECT_VERSION__ === 'string'
    ? __KOLLECT_VERSION__
    : (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
