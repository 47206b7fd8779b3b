import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import type { KollectConfig } from '../config/schema.js';
import { UsageError } from '../errors.js';
import { createProjector, type Projector } from '../rows/project.js';
import { resolveProfile } from '../rows/profiles/registry.js';
import { shardKeyOf } from '../rows/row.js';
import type { ShardSize } from './shard-report.js';

/**
 * Shard sizes of a GitOps repo: the objects its manifests would create, counted as kollect
 * would collect them under the config's resource list, so CI can fail a pull request before a
 * namespace grows past the limit.
 */

const MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Kinds whose objects have no namespace (the common built-ins). */
const CLUSTER_SCOPED_KINDS = new Set([
  'Namespace', 'Node', 'PersistentVolume', 'StorageClass', 'ClusterRole', 'ClusterRoleBinding', 'CustomResourceDefinition',
  'PriorityClass', 'IngressClass', 'RuntimeClass', 'APIService', 'MutatingWebhookConfiguration', 'ValidatingWebhookConfiguration',
  'CSIDriver', 'CSINode', 'VolumeAttachment',
]);

/** The plural resource name of a kind, as the API server derives it for most kinds. */
const IRREGULAR_PLURALS: Readonly<Record<string, string>> = { endpoints: 'endpoints' };

export function pluralOf(kind: string): string {
  const lower = kind.toLowerCase();
  const irregular = IRREGULAR_PLURALS[lower];
  if (irregular) return irregular;
  if (/(s|x|z|ch|sh)$/.test(lower)) return `${lower}es`;
  if (/[^aeiou]y$/.test(lower)) return `${lower.slice(0, -1)}ies`;
  return `${lower}s`;
}

interface ManifestObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown; uid?: unknown; creationTimestamp?: unknown; resourceVersion?: unknown };
  items?: unknown;
}

async function* manifestFiles(path: string): AsyncGenerator<string> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new UsageError(`--manifests ${path}: ${error.code === 'ENOENT' ? 'no such file or folder' : error.message}`);
  });
  if (info.isFile()) {
    yield path;
    return;
  }
  const entries = await readdir(path, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const child = join(path, entry.name);
    if (entry.isDirectory()) yield* manifestFiles(child);
    else if (entry.isFile() && MANIFEST_EXTENSIONS.has(extname(entry.name))) yield child;
  }
}

function* objectsOf(doc: unknown): Generator<ManifestObject> {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return;
  const object = doc as ManifestObject;
  if (typeof object.kind === 'string' && object.kind.endsWith('List') && Array.isArray(object.items)) {
    for (const item of object.items) yield* objectsOf(item);
  } else if (typeof object.kind === 'string' && typeof object.apiVersion === 'string') {
    yield object;
  }
}

/** Counts rows and row bytes per shard over every manifest under the given paths. */
export async function manifestShardSizes(paths: string[], config: KollectConfig): Promise<ShardSize[]> {
  const projectors = new Map<string, Projector | null>();
  const projectorFor = (group: string, version: string, kind: string): Projector | null => {
    const resource = pluralOf(kind);
    const key = `${group}/${resource}`;
    let projector = projectors.get(key);
    if (projector === undefined) {
      const configured = config.resources.find((r) => r.group === group && r.resource === resource);
      projector = configured
        ? createProjector(config.cluster, { group, version, resource, kind }, resolveProfile(configured, config.profiles))
        : null;
      projectors.set(key, projector);
    }
    return projector;
  };
  const sizes = new Map<string, ShardSize>();
  for (const path of paths) {
    for await (const file of manifestFiles(path)) {
      const text = await readFile(file, 'utf8');
      for (const doc of parseAllDocuments(text)) {
        if ('errors' in doc && doc.errors.length > 0) {
          throw new UsageError(`${file}: not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
        }
        for (const object of objectsOf(doc.toJS())) {
          const apiVersion = object.apiVersion as string;
          const kind = object.kind as string;
          const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/', 2) as [string, string]) : ['', apiVersion];
          const projector = projectorFor(group, version, kind);
          if (!projector) continue;
          const meta = object.metadata ?? {};
          const namespace = CLUSTER_SCOPED_KINDS.has(kind) ? '' : typeof meta.namespace === 'string' ? meta.namespace : 'default';
          // Manifests have no server-set fields; stand-ins of real length keep the byte count honest.
          const row = projector({
            ...object,
            metadata: {
              ...(meta as Record<string, string>),
              namespace,
              uid: typeof meta.uid === 'string' ? meta.uid : '00000000-0000-0000-0000-000000000000',
              creationTimestamp: typeof meta.creationTimestamp === 'string' ? meta.creationTimestamp : '1970-01-01T00:00:00Z',
              resourceVersion: typeof meta.resourceVersion === 'string' ? meta.resourceVersion : '0000000',
            },
          });
          const key = shardKeyOf(row.namespace);
          const size = sizes.get(key) ?? { key, rows: 0, bytes: 0 };
          size.rows++;
          size.bytes += Buffer.byteLength(`${JSON.stringify(row)}\n`);
          sizes.set(key, size);
        }
      }
    }
  }
  return [...sizes.values()];
}
