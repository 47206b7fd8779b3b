import type { Document } from 'yaml';

/** The most alias expansions a document may make: yaml's own default, stated here because messages quote it. */
const MAX_ALIAS_COUNT = 100;

/**
 * A parsed YAML document as plain values. yaml expands an alias by copying what its anchor holds,
 * so a few lines of nested aliases ("billion laughs") would fill the process's memory; past
 * `MAX_ALIAS_COUNT` expansions, and for an alias whose anchor comes later or nowhere, yaml throws
 * a ReferenceError, which becomes `failure(reason)`.
 */
export function documentValue(doc: Document, failure: (reason: string) => Error): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (error) {
    if (!(error instanceof ReferenceError)) throw error;
    throw failure(
      error.message.startsWith('Excessive alias count')
        ? `its aliases (*name) would expand to more than ${MAX_ALIAS_COUNT} copies of anchored values (a YAML "alias bomb"?): write the values out`
        : error.message,
    );
  }
}
