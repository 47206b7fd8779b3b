import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import * as promClient from 'prom-client';

const require = createRequire(import.meta.url);
const root = new URL('../../', import.meta.url).pathname;
/** What the bundle gets for 'prom-client' (scripts/bundle.ts). */
const lean = require(join(root, 'scripts/support/prom-client-lean.cjs')) as Record<string, unknown>;

/** Every name a module of src/ imports from 'prom-client'. */
async function namesImported(): Promise<Set<string>> {
  const names = new Set<string>();
  const files = (await readdir(join(root, 'src'), { recursive: true })).filter((f) => f.endsWith('.ts'));
  for (const file of files) {
    const text = await readFile(join(root, 'src', file), 'utf8');
    // Type-only imports need nothing at run time.
    for (const match of text.matchAll(/import\s+\{([^}]*)\}\s+from\s+'prom-client'/g)) {
      for (const name of match[1]!.split(',').map((n) => n.trim())) {
        if (name && !name.startsWith('type ')) names.add(name.split(/\s+as\s+/)[0]!);
      }
    }
    assert.doesNotMatch(
      text,
      /import\s+\*\s+as\s+\w+\s+from\s+'prom-client'|import\s+\w+\s+from\s+'prom-client'/,
      `${file}: import the names the bundle's shim exports`,
    );
  }
  return names;
}

describe("the bundle's lean prom-client", () => {
  it('GIVEN every name src/ imports from prom-client THEN the shim exports it, as the same class prom-client exports', async () => {
    const names = await namesImported();
    assert.ok(names.has('Registry') && names.has('Counter'), `the scan found the imports: ${[...names].join(', ')}`);
    for (const name of names) {
      assert.ok(lean[name] !== undefined, `scripts/support/prom-client-lean.cjs does not export ${name}`);
      assert.equal(lean[name], (promClient as Record<string, unknown>)[name], `${name} is prom-client's own`);
    }
  });
});
