import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pageWork, type ListedType } from '../../src/collect/list-rows.js';
import { createPageEncoder } from '../../src/collect/row-encoder.js';
import type { Profile } from '../../src/rows/profiles/profile.js';
import type { Row } from '../../src/rows/row.js';
import { parseSpoolLine } from '../../src/store/spool-line.js';
import { parseListBody } from '../support/list-pages.js';

const POD: ListedType = { group: '', version: 'v1', resource: 'pods', kind: 'Pod', namespaced: true };

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
  const { page, rows } = pageWork('c1', POD, profile)(PAGE);
  assert.equal(rows, 1);
  return Buffer.from(page[0]!.lines).toString('utf8');
}

function rowOf(profile: Profile): Row {
  return parseSpoolLine(lineOf(profile).replace(/\n$/, ''), { cluster: 'c1', namespace: 'shop', type: { apiGroup: POD.group, apiVersion: POD.version, kind: POD.kind, resource: POD.resource } });
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
});
