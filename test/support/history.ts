import { rowChecksum } from '../../src/rows/project.js';
import type { Row } from '../../src/rows/row.js';
import type { PostgresSinkConfig } from '../../src/config/schema.js';
import { exportStore, testSinkConfig } from './postgres.js';
import { SYNTHETIC_TYPES, storeOf } from './store-fixture.js';

/** The postgres sink of the tests with history on (baseline: one run). */
export const HISTORY_SINK = testSinkConfig({ history: true });

/** An object of a step (a Pod unless `kind` says otherwise). */
export interface ObjectState {
  namespace: string;
  name: string;
  kind?: 'Pod' | 'ConfigMap';
  labels?: Record<string, string>;
  attributes?: Record<string, unknown>;
}

/** Every object a step creates was created at this time. */
export const CREATED_AT = '2026-01-01T00:00:00Z';

function rowOf(cluster: string, object: ObjectState): Row {
  const kind = object.kind ?? 'Pod';
  const type = SYNTHETIC_TYPES.find((t) => t.kind === kind)!;
  const row: Row = {
    cluster,
    namespace: object.namespace,
    name: object.name,
    uid: `uid-${object.name}`,
    apiGroup: type.group,
    apiVersion: type.version,
    kind,
    resource: type.resource,
    labels: object.labels ?? {},
    attributes: object.attributes ?? {},
    createdAt: CREATED_AT,
    resourceVersion: '1',
    checksum: '',
  };
  row.checksum = rowChecksum(row);
  return row;
}

/**
 * A cluster as a collect sees it, exported with history on after each step: the first export is
 * its baseline, each later one records its inserts, updates and deletes.
 */
export class ExportedCluster {
  readonly #objects = new Map<string, Row>();

  constructor(
    private readonly url: string,
    readonly cluster: string,
    private readonly sink: PostgresSinkConfig = HISTORY_SINK,
  ) {}

  /** Puts and removes objects, then exports them all; resolves to a time after this export and before the next. */
  async export(step: { put?: ObjectState[]; remove?: Array<Pick<ObjectState, 'namespace' | 'name'>> } = {}): Promise<Date> {
    for (const object of step.put ?? []) this.#objects.set(`${object.namespace}/${object.name}`, rowOf(this.cluster, object));
    for (const key of step.remove ?? []) this.#objects.delete(`${key.namespace}/${key.name}`);
    const rows = [...this.#objects.values()].sort((a, b) => a.resource.localeCompare(b.resource));
    await exportStore(this.url, await storeOf(this.cluster, rows), this.sink);
    return new Date();
  }
}
