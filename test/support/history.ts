import type pg from 'pg';
import { withClient } from './postgres.js';

/**
 * The changes table and the runs table's `baseline` column as the history contract between the
 * branches names them (history on a postgres sink writes them), and a writer that keeps a
 * cluster's items and its changes the way an export with history on leaves them: one run per
 * step, one changes row per insert, update and delete, before and after images.
 */

export async function createHistoryTable(url: string, options: { schema?: string; table?: string } = {}): Promise<void> {
  const changes = `"${options.schema ?? 'public'}"."${options.table ?? 'kollect_changes'}"`;
  await withClient(url, async (client) => {
    await client.query(`CREATE TABLE ${changes} (
      cluster text NOT NULL, namespace text NOT NULL, name text NOT NULL, uid text NOT NULL,
      api_group text NOT NULL, api_version text NOT NULL, kind text NOT NULL, resource text NOT NULL,
      operation text NOT NULL CHECK (operation IN ('insert', 'update', 'delete')),
      changed_at timestamptz NOT NULL, run_id bigint NOT NULL,
      checksum_before text NULL, checksum_after text NULL,
      labels_before jsonb NULL, labels_after jsonb NULL,
      attributes_before jsonb NULL, attributes_after jsonb NULL,
      created_at_before timestamptz NULL)`);
    await client.query(`ALTER TABLE "${options.schema ?? 'public'}"."kollect_runs" ADD COLUMN IF NOT EXISTS baseline boolean NOT NULL DEFAULT false`);
  });
}

/** An object as a step of the writer leaves it (a Pod of the core group unless `kind` says otherwise). */
export interface ObjectState {
  namespace: string;
  name: string;
  kind?: 'Pod' | 'ConfigMap';
  labels?: Record<string, string>;
  attributes?: Record<string, unknown>;
}

const RESOURCE = { Pod: 'pods', ConfigMap: 'configmaps' } as const;

function checksumOf(state: ObjectState): string {
  return JSON.stringify([state.labels ?? {}, state.attributes ?? {}]);
}

/** Writes a cluster's history step by step at the times a test chooses. */
export class HistoryWriter {
  constructor(
    private readonly url: string,
    readonly cluster: string,
  ) {}

  async #run(client: pg.Client, at: Date, baseline: boolean): Promise<string> {
    const run = await client.query<{ id: string }>(
      `INSERT INTO kollect_runs (cluster, sink, started_at, finished_at, rows, inserted, updated, unchanged, deleted, status, baseline)
       VALUES ($1, 'fleet-db', $2, $2, 0, 0, 0, 0, 0, 'succeeded', $3) RETURNING id`,
      [this.cluster, at, baseline],
    );
    return run.rows[0]!.id;
  }

  /** The cluster's first export with history on: its objects, one run marked baseline, no changes rows. */
  async baseline(at: Date, objects: ObjectState[]): Promise<void> {
    await withClient(this.url, async (client) => {
      await this.#run(client, at, true);
      for (const object of objects) await this.#insertItem(client, object, at);
    });
  }

  async #insertItem(client: pg.Client, o: ObjectState, at: Date): Promise<void> {
    const kind = o.kind ?? 'Pod';
    await client.query(
      `INSERT INTO kollect_items (cluster, namespace, name, uid, api_group, api_version, kind, resource, labels, attributes, checksum, resource_version, created_at, collected_at, exported_at)
       VALUES ($1, $2, $3, $4, '', 'v1', $5, $6, $7, $8, $9, '1', $10, $10, $10)`,
      [this.cluster, o.namespace, o.name, `uid-${o.name}`, kind, RESOURCE[kind], o.labels ?? {}, o.attributes ?? {}, checksumOf(o), at],
    );
  }

  /** One export at `at`: `put` objects are inserted or updated, `remove` ones deleted; each writes its changes row. */
  async step(at: Date, changes: { put?: ObjectState[]; remove?: Array<Pick<ObjectState, 'namespace' | 'name'>> }): Promise<void> {
    await withClient(this.url, async (client) => {
      const runId = await this.#run(client, at, false);
      const record = (operation: string, key: Pick<ObjectState, 'namespace' | 'name'>, fromItems: boolean, after: ObjectState | undefined) =>
        client.query(
          `INSERT INTO kollect_changes (cluster, namespace, name, uid, api_group, api_version, kind, resource, operation, changed_at, run_id,
                                        checksum_before, labels_before, attributes_before, created_at_before, checksum_after, labels_after, attributes_after)
           SELECT $1, $2, $3, $4, '', 'v1', coalesce(b.kind, $5), coalesce(b.resource, $6), $7, $8, $9, b.checksum, b.labels, b.attributes, b.created_at, $10, $11, $12
             FROM (SELECT 1) AS one
             LEFT JOIN kollect_items b ON $13 AND b.cluster = $1 AND b.namespace = $2 AND b.name = $3`,
          [
            this.cluster,
            key.namespace,
            key.name,
            `uid-${key.name}`,
            after?.kind ?? 'Pod',
            RESOURCE[after?.kind ?? 'Pod'],
            operation,
            at,
            runId,
            after ? checksumOf(after) : null,
            after ? (after.labels ?? {}) : null,
            after ? (after.attributes ?? {}) : null,
            fromItems,
          ],
        );
      for (const object of changes.put ?? []) {
        const found = await client.query('SELECT 1 FROM kollect_items WHERE cluster = $1 AND namespace = $2 AND name = $3', [
          this.cluster,
          object.namespace,
          object.name,
        ]);
        if (found.rowCount === 0) {
          await record('insert', object, false, object);
          await this.#insertItem(client, object, at);
          continue;
        }
        await record('update', object, true, object);
        await client.query(
          'UPDATE kollect_items SET labels = $4, attributes = $5, checksum = $6, exported_at = $7 WHERE cluster = $1 AND namespace = $2 AND name = $3',
          [this.cluster, object.namespace, object.name, object.labels ?? {}, object.attributes ?? {}, checksumOf(object), at],
        );
      }
      for (const key of changes.remove ?? []) {
        await record('delete', key, true, undefined);
        await client.query('DELETE FROM kollect_items WHERE cluster = $1 AND namespace = $2 AND name = $3', [this.cluster, key.namespace, key.name]);
      }
    });
  }
}
