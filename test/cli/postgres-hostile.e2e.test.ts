import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { createProjector, type KubeObject } from '../../src/rows/project.js';
import { logLines } from '../support/cli.js';
import { dropTestDatabases, exportWithCli, freshDatabase, initTables, sinkResult, testSinkConfig, withClient } from '../support/postgres.js';
import { parsePromText, samplesOf } from '../support/prom-text.js';
import { buildStore, SYNTHETIC_TYPES, tempDir } from '../support/store-fixture.js';

/**
 * `kollect export --from STORE` of what a real kube-apiserver returned for ConfigMaps whose
 * annotation holds hostile text, one of them a NUL (test/fixtures/kube-apiserver-v1.20.2/), read
 * by a profile attribute, into PostgreSQL and a folder at once.
 */

const PAGE = new URL('../fixtures/kube-apiserver-v1.20.2/configmaps-hostile-metadata.json', import.meta.url);
const CONFIGMAPS = SYNTHETIC_TYPES.find((t) => t.resource === 'configmaps')!;

/**
 * A store of the recorded page's ConfigMaps (and `more`), projected with a profile that keeps
 * annotation `x/note` as attribute `note`.
 */
async function hostileStore(dir: string, more: KubeObject[] = []): Promise<{ store: string; notes: Map<string, string> }> {
  const objects = [...(JSON.parse(await readFile(PAGE, 'utf8')) as { items: KubeObject[] }).items, ...more];
  const project = createProjector('c1', CONFIGMAPS, { name: 'note', attributes: { note: 'metadata.annotations["x/note"]' } });
  const rows = objects.map(project);
  const store = join(dir, 'store');
  await buildStore(store, 'c1', rows);
  return { store, notes: new Map(rows.flatMap((r) => (typeof r.attributes.note === 'string' ? [[r.name, r.attributes.note]] : []))) };
}

async function writeConfig(dir: string, out: string): Promise<string> {
  const file = join(dir, 'kollect.json');
  await writeFile(
    file,
    JSON.stringify({
      cluster: 'c1',
      sinks: [
        { name: 'fleet-db', type: 'postgres', ssl: { mode: 'disable' } },
        { name: 'files', type: 'file', dir: out },
      ],
    }),
  );
  return file;
}

/** A fresh database with kollect's tables, the hostile store and a config exporting it to the database and to the folder `out`. */
async function setup(more: KubeObject[] = []) {
  const url = await freshDatabase();
  await initTables(url, testSinkConfig());
  const dir = await tempDir();
  const { store, notes } = await hostileStore(dir, more);
  return { url, dir, store, notes, config: await writeConfig(dir, join(dir, 'out')) };
}

async function storedNotes(url: string): Promise<Map<string, string>> {
  return withClient(
    url,
    async (c) =>
      new Map(
        (
          await c.query<{ name: string; note: string }>(
            "SELECT name, attributes->>'note' AS note FROM kollect_items WHERE cluster = 'c1' AND attributes ? 'note'",
          )
        ).rows.map((r) => [r.name, r.note]),
      ),
  );
}

describe('kollect export of hostile values into PostgreSQL (processes)', () => {
  after(dropTestDatabases);

  it("GIVEN a real server's ConfigMap whose annotation read by a profile holds a NUL WHEN exported THEN exit 0, PostgreSQL holds U+FFFD, the folder the NUL, and the result, the log and a metric name it", async () => {
    const { url, dir, store, notes, config } = await setup();
    const metricsFile = join(dir, 'metrics.prom');
    assert.equal(notes.get('hostile-nul'), 'nul\u0000inside');

    const run = await exportWithCli(url, config, store, ['--metrics-file', metricsFile]);

    // THEN the export succeeds, and the result names the object and the field
    const result = sinkResult(run);
    assert.equal(result.inserted, notes.size + 1);
    assert.deepEqual(result.replaced, { count: 1, first: [{ namespace: 'real-hostile', name: 'hostile-nul', kind: 'ConfigMap', field: 'attributes.note' }] });
    // the table holds U+FFFD where the NUL was, and every other hostile value exactly
    assert.deepEqual(await storedNotes(url), new Map([...notes].map(([name, note]) => [name, note.replaceAll('\u0000', '\uFFFD')])));
    // the file sink keeps the exact value
    const file = await readFile(join(dir, 'out', 'clusters', 'c1', 'namespaces', 'real-hostile.json'), 'utf8');
    assert.ok(file.includes('"nul\\u0000inside"'), file);
    // the log says so, naming the object and the field
    const warning = logLines(run).find((l) => l.level === 'warn' && /NUL/.test(String(l.msg)));
    assert.deepEqual([warning?.replaced, warning?.first], [1, ['real-hostile/hostile-nul (ConfigMap) attributes.note']], run.stderr);
    // a metric counts it
    const families = parsePromText(await readFile(metricsFile, 'utf8'));
    assert.deepEqual(
      samplesOf(families, 'kollect_sink_values_replaced_total').map((s) => [s.labels, s.value]),
      [[{ cluster: 'c1', sink: 'fleet-db', type: 'postgres' }, 1]],
    );
  });

  it('GIVEN a first export that replaced a NUL WHEN the same store is exported again THEN no row is updated and nothing is replaced', async () => {
    const { url, store, config } = await setup();
    assert.equal(sinkResult(await exportWithCli(url, config, store)).replaced?.count, 1);

    const again = sinkResult(await exportWithCli(url, config, store));

    assert.deepEqual([again.inserted, again.updated, again.deleted, again.replaced?.count], [0, 0, 0, 0]);
  });

  it('GIVEN a ConfigMap with a NUL WHEN exported with the text summary THEN the summary names the object and the field', async () => {
    const { url, store, config } = await setup();

    const run = await exportWithCli(url, config, store, ['--output', 'text']);

    assert.equal(run.code, 0, run.stderr);
    assert.match(
      run.stdout,
      /^fleet-db: 1 value held text PostgreSQL cannot store \(NUL, a lone surrogate\), stored with U\+FFFD in its place: real-hostile\/hostile-nul \(ConfigMap\) attributes\.note$/m,
    );
  });

  it('GIVEN a ConfigMap whose annotation holds a lone surrogate (JSON "\\ud800") WHEN exported THEN exit 0, PostgreSQL holds U+FFFD, the folder the exact value, and the result names it', async () => {
    const page = JSON.parse(await readFile(PAGE, 'utf8')) as { items: KubeObject[] };
    const template = page.items[0]!;
    // JSON.parse of the server's text `"half \ud800 pair"` gives this string: no UTF-8 can carry it.
    const halfPair = JSON.parse('"half \\ud800 pair"') as string;
    const metadata = { ...template.metadata, name: 'hostile-surrogate', uid: '00000000-0000-4000-8000-0000000000d8', annotations: { 'x/note': halfPair } };
    const surrogate: KubeObject = { ...template, metadata };
    const { url, dir, store, notes, config } = await setup([surrogate]);

    const run = await exportWithCli(url, config, store);

    // THEN the export succeeds and names both values it replaced
    const result = sinkResult(run);
    assert.equal(result.inserted, notes.size + 1);
    assert.deepEqual(result.replaced?.first.map((r) => r.name).sort(), ['hostile-nul', 'hostile-surrogate']);
    assert.equal((await storedNotes(url)).get('hostile-surrogate'), 'half \uFFFD pair');
    // the file sink keeps the exact value
    const file = await readFile(join(dir, 'out', 'clusters', 'c1', 'namespaces', 'real-hostile.json'), 'utf8');
    assert.ok(file.includes('"half \\ud800 pair"'), file);
  });
});
