import * as z from 'zod/mini';
import en from 'zod/v4/locales/en.js';

/**
 * zod for every schema of kollect: zod/mini, with zod's English messages. The mini build is the
 * same validator as zod's classic API without the methods classic attaches to every schema at
 * construction, so loading and building kollect's schemas costs every process less CPU, and a
 * CronJob and a CI check start a process per run (docs/benchmarks.md, "Choices in the code").
 * Mini prints only "Invalid input" unless a locale is configured, so the English one is set
 * here, once: every module that declares schemas imports its helpers from here. They import
 * zod/mini itself as a namespace of their own (`import * as z`), which the bundler can
 * tree-shake; a namespace re-exported from here would keep all of zod, every locale included.
 */
z.config(en());

/** A string of at least one character. */
export const nonEmpty = () => z.string().check(z.minLength(1));

/** A whole number from `min` to `max`. */
export const wholeNumber = (min: number, max: number) => z.number().check(z.int(), z.gte(min), z.lte(max));

/** A whole number above zero. */
export const positiveNumber = () => z.number().check(z.int(), z.positive());

/** A whole number of zero or more. */
export const count = () => z.number().check(z.int(), z.nonnegative());
