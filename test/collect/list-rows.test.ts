import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ListPool } from '../../src/collect/list-pool.js';
import { pageWork } from '../../src/collect/list-rows.js';
import { createPageEncoder } from '../../src/collect/row-encoder.js';
import type { Profile } from '../../src/rows/profiles/profile.js';
import type { ProjectedType } from '../../src/rows/project.js';
import type { Row } from '../../src/rows/row.js';
import { parseSpoolLine } from '../../src/store/spool-line.js';
import { parseListBody } from '../support/list-pages.js';

const POD: ProjectedType = { group: '', version: 'v1', resource: 'pods', kind: 'Pod' };

/** A metadata-only page of one pod with two managedFields entries. */
const PAGE = {
  body: Buffer.from(
    JSON.stringify({
      kind: 'PartialObjectMetadataList',
      apiVersion: 'meta.k8s.io/v1',
      metadata: {},
      items: [
        {
          metadata: {
            name: 'web-1',
            namespace: 'shop',
            uid: 'u-1',
            labels: { app: 'web' },
            managedFields: [
              { manager: 'kubectl', operation: 'Update', fieldsV1: { 'f:metadata': {} } },
              { manager: 'kubelet', operation: 'Update', subresource: 'status', fieldsV1: { 'f:status': {} } },
            ],
          },
        },
      ],
    }),
  ),
  continue: '',
  what: 'list pods (page 1)',
};

/** The page's one row line, as the spool gets it from pageWork. */
function lineOf(profile: Profile): string {
  const { page, rows } = pageWork('c1', POD, profile, true)(PAGE);
  assert.equal(rows, 1);
  return Buffer.from(page[0]!.lines).toString('utf8');
}

function rowOf(profile: Profile): Row {
  return parseSpoolLine(lineOf(profile).replace(/\n$/, ''), {
    cluster: 'c1',
    namespace: 'shop',
    type: { apiGroup: POD.group, apiVersion: POD.version, kind: POD.kind, resource: POD.resource },
  });
}

describe('the per-page work of a type', () => {
  it('GIVEN a metadata-only profile THEN rows are the same whether or not managedFields were parsed', () => {
    const profile: Profile = { name: 'metadata', attributes: { app: 'metadata.labels.app' } };
    const row = rowOf(profile);
    assert.deepEqual(row.attributes, { app: 'web' });
    assert.equal(row.name, 'web-1');
    // The same page parsed whole, managedFields and all, encodes to the same bytes.
    const [whole] = createPageEncoder('c1', POD, profile)(parseListBody(PAGE));
    assert.equal(Buffer.from(whole!.lines).toString('utf8'), lineOf(profile));
  });

  it('GIVEN a profile that reads managedFields THEN the page is parsed with them and the attribute has its values', () => {
    const row = rowOf({ name: 'managers', attributes: { managers: 'metadata.managedFields[*].manager' } });
    assert.deepEqual(row.attributes, { managers: ['kubectl', 'kubelet'] });
  });

  /**
   * A page whose managedFields is not JSON (`tru`): the fast way cuts managedFields unread, the
   * plain way parses every byte. The one place where the two ways differ, so it shows which one ran.
   */
  const BROKEN = { ...PAGE, body: Buffer.from(PAGE.body.toString('utf8').replace('"operation":"Update"', '"operation":tru')) };
  const METADATA: Profile = { name: 'metadata', attributes: {} };

  it('GIVEN a page with broken managedFields WHEN list.fastParse is false THEN KUBE_API_ERROR; WHEN true THEN its row', () => {
    assert.throws(() => JSON.parse(BROKEN.body.toString('utf8')));
    assert.equal(pageWork('c1', POD, METADATA, true)(BROKEN).rows, 1);
    assert.throws(() => pageWork('c1', POD, METADATA, false)(BROKEN), { code: 'KUBE_API_ERROR' });
  });

  it('GIVEN list workers WHEN list.fastParse is false THEN the workers parse plainly too', async () => {
    const pool = new ListPool(1, new AbortController().signal);
    try {
      const encodeFast = pool.encoder('c1', POD, METADATA, true);
      const encodePlain = pool.encoder('c1', POD, METADATA, false);
      const page = (): typeof BROKEN & { kind: 'body' } => ({ ...BROKEN, body: Buffer.from(BROKEN.body), kind: 'body' });
      assert.equal((await encodeFast(page())).rows, 1);
      await assert.rejects(Promise.resolve(encodePlain(page())), { code: 'KUBE_API_ERROR' });
    } finally {
      await pool.close();
    }
  });
});

describe('pageWork and items that are no objects', () => {
  it('GIVEN a page whose items hold null, a number and a pod WHEN encoded THEN the pod is a row and the others are refused, not a crash', () => {
    const items = [null, 7, JSON.parse(PAGE.body.toString('utf8')).items[0]];
    const body = Buffer.from(JSON.stringify({ kind: 'PartialObjectMetadataList', apiVersion: 'meta.k8s.io/v1', metadata: {}, items }));
    for (const fastParse of [true, false]) {
      const { rows, refused } = pageWork('c1', POD, { name: 'metadata', attributes: {} }, fastParse)({ ...PAGE, body });
      assert.equal(rows, 1);
      assert.deepEqual(
        refused.map((r) => r.reason),
        ['name is empty', 'name is empty'],
      );
    }
  });
});
