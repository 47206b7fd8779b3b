import { readdir, realpath, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { WILDCARD, type KollectConfig, type ResourceConfig } from '../config/schema.js';
import { UsageError } from '../errors.js';
import { documentValue } from '../config/document-value.js';
import { inNamespaceScope } from '../kube/namespace-scope.js';
import { fieldSelectorMatches, labelSelectorMatches } from '../kube/selectors.js';
import { fileErrorReason, readTextFile } from '../fs/read-text-file.js';
import { createProjector, type Projector } from '../rows/project.js';
import { resolveProfile } from '../rows/profiles/registry.js';
import { resourceTypeKey, shardKeyOf } from '../rows/row.js';
import type { ShardSize } from './shard-report.js';

/**
 * Shard sizes of a GitOps repo: the objects its Kubernetes manifests (YAML or JSON files of
 * objects to apply) would create, counted as kollect would collect them under the config's
 * resource list, so CI can fail a pull request before a namespace grows past the limit. Not the
 * store manifest (a collect store's manifest.json, src/store/store-manifest.ts).
 */

const KUBE_MANIFEST_EXTENSIONS = new Set(['.yaml', '.yml', '.json']);

/** Kinds whose objects have no namespace (the common built-ins). */
const CLUSTER_SCOPED_KINDS = new Set([
  'Namespace',
  'Node',
  'PersistentVolume',
  'StorageClass',
  'ClusterRole',
  'ClusterRoleBinding',
  'CustomResourceDefinition',
  'PriorityClass',
  'IngressClass',
  'RuntimeClass',
  'APIService',
  'MutatingWebhookConfiguration',
  'ValidatingWebhookConfiguration',
  'CSIDriver',
  'CSINode',
  'VolumeAttachment',
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

interface KubeManifestObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: {
    name?: unknown;
    generateName?: unknown;
    namespace?: unknown;
    labels?: unknown;
    uid?: unknown;
    creationTimestamp?: unknown;
    resourceVersion?: unknown;
  };
  items?: unknown;
}

/** A manifest file: the path as found under a given path, and its real path (one file may be linked to twice). */
interface KubeManifestFile {
  path: string;
  real: string;
}

/** An object a manifest holds, and where: `document 2` or `document 2, item 5` (a List's). */
interface PlacedObject {
  object: KubeManifestObject;
  where: string;
}

/** Something a manifest holds that was not counted, and why; the report still runs. */
export interface KubeManifestWarning {
  file: string;
  /** `document 2`, or `document 2, item 5` for an item of a List (both from 1). */
  where: string;
  message: string;
}

export interface KubeManifestSizes {
  sizes: ShardSize[];
  warnings: KubeManifestWarning[];
}

const kubeManifestProblem = (path: string) => (reason: string) => new UsageError(`--manifests: ${JSON.stringify(path)}: ${reason}`);

/**
 * The manifest files at `path`: itself when it is a file (named on the command line: whatever
 * its name), else the files named *.yaml, *.yml or *.json under it, in name order, hidden ones
 * left out. Symbolic links are followed, to files and folders alike (a GitOps repo links shared
 * bases into its overlays); `ancestors` holds the real paths of the folders above, so that a link
 * back up the tree is not walked again and again.
 */
async function* kubeManifestFiles(path: string, given: boolean, ancestors: ReadonlySet<string>): AsyncGenerator<KubeManifestFile> {
  let real: string;
  let isFolder: boolean;
  try {
    real = await realpath(path);
    isFolder = (await stat(real)).isDirectory();
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT';
    // A link to nothing that is not named as a manifest: nothing to count, as for a README.
    if (missing && !given && !KUBE_MANIFEST_EXTENSIONS.has(extname(path))) return;
    throw kubeManifestProblem(path)(missing ? (given ? 'no such file or folder' : 'a symbolic link to nothing') : fileErrorReason(error));
  }
  if (!isFolder) {
    if (given || KUBE_MANIFEST_EXTENSIONS.has(extname(path))) yield { path, real };
    return;
  }
  if (ancestors.has(real)) return;
  const entries = await readdir(path, { withFileTypes: true }).catch((error: unknown) => {
    throw kubeManifestProblem(path)(fileErrorReason(error));
  });
  entries.sort((a, b) => (a.name < b.name ? -1 : 1));
  const below = new Set(ancestors).add(real);
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    // Only a folder or a link may lead to a manifest under another name.
    if (!entry.isDirectory() && !entry.isSymbolicLink() && !KUBE_MANIFEST_EXTENSIONS.has(extname(entry.name))) continue;
    yield* kubeManifestFiles(join(path, entry.name), false, below);
  }
}

function* objectsOf(doc: unknown, where: string): Generator<PlacedObject> {
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return;
  const object = doc as KubeManifestObject;
  if (typeof object.kind === 'string' && object.kind.endsWith('List') && Array.isArray(object.items)) {
    for (const [i, item] of object.items.entries()) yield* objectsOf(item, `${where}, item ${i + 1}`);
  } else if (typeof object.kind === 'string' && typeof object.apiVersion === 'string') {
    yield { object, where };
  }
}

/**
 * Counts rows and row bytes per shard over every manifest under the given paths. Fails (exit 2)
 * on a path with no manifest at all, so that a CI gate cannot pass on nothing, and on a file
 * that cannot be read or parsed; warns of objects it leaves out.
 */
export async function kubeManifestShardSizes(paths: string[], config: KollectConfig): Promise<KubeManifestSizes> {
  const projectors = new Map<string, { configured: ResourceConfig; project: Projector } | null>();
  const projectorFor = (group: string, version: string, kind: string) => {
    const resource = pluralOf(kind);
    const key = `${group}/${resource}`;
    let projector = projectors.get(key);
    if (projector === undefined) {
      const configured = configuredFor(config, group, resource);
      projector = configured
        ? {
            configured,
            project: createProjector(
              config.cluster,
              { group, version, resource, kind },
              resolveProfile({ group, resource, profile: configured.profile }, config.profiles),
            ),
          }
        : null;
      projectors.set(key, projector);
    }
    return projector;
  };
  const sizes = new Map<string, ShardSize>();
  const warnings: KubeManifestWarning[] = [];
  const counted = new Set<string>();
  for (const path of paths) {
    let found = 0;
    for await (const { path: file, real } of kubeManifestFiles(path, true, new Set())) {
      found++;
      // Linked to from two places (a base shared by overlays), a file is still applied once.
      if (counted.has(real)) continue;
      counted.add(real);
      const text = await readTextFile(file, kubeManifestProblem(file));
      for (const [index, doc] of parseAllDocuments(text).entries()) {
        if ('errors' in doc && doc.errors.length > 0) {
          throw kubeManifestProblem(file)(`not valid YAML: ${doc.errors[0]?.message.split('\n')[0] ?? ''}`);
        }
        const value = documentValue(doc, (reason) => kubeManifestProblem(file)(`document ${index + 1}: ${reason}`));
        for (const { object, where } of objectsOf(value, `document ${index + 1}`)) {
          const apiVersion = object.apiVersion as string;
          const kind = object.kind as string;
          const [group, version] = apiVersion.includes('/') ? (apiVersion.split('/', 2) as [string, string]) : ['', apiVersion];
          const projector = projectorFor(group, version, kind);
          if (!projector) continue;
          const meta = object.metadata ?? {};
          if (!isName(meta.name) && !isName(meta.generateName)) {
            warnings.push({ file, where, message: `a ${kind} without metadata.name: the API server would refuse it, so it is not counted` });
            continue;
          }
          const namespace = CLUSTER_SCOPED_KINDS.has(kind) ? '' : typeof meta.namespace === 'string' ? meta.namespace : 'default';
          // The API server makes the name of a generateName object by appending 5 characters.
          const name = isName(meta.name) ? (meta.name as string) : `${meta.generateName as string}xxxxx`;
          if (!wouldBeListed(config, projector.configured, { name, namespace, labels: meta.labels })) continue;
          // Manifests have no server-set fields; stand-ins of real length keep the byte count honest.
          const row = projector.project({
            ...object,
            metadata: {
              ...(meta as Record<string, string>),
              name,
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
    if (found === 0) throw kubeManifestProblem(path)(`no manifest found: no file named *.yaml, *.yml or *.json under it (symbolic links followed)`);
  }
  return { sizes: [...sizes.values()], warnings };
}

/** A name the API server could take (or make from `generateName`): a string, not empty. */
function isName(value: unknown): boolean {
  return typeof value === 'string' && value !== '';
}

/**
 * The configured resource a manifest's type falls under, as discovery resolves the configuration
 * (src/kube/discovery.ts): the entry naming it, else the first wildcard that reaches its group,
 * unless `exclude` leaves it out of wildcards. Undefined: kollect would not collect it.
 */
function configuredFor(config: KollectConfig, group: string, resource: string): ResourceConfig | undefined {
  const named = config.resources.find((r) => r.group === group && r.resource === resource);
  if (named) return named;
  if (config.exclude.includes(resourceTypeKey({ group, resource }))) return undefined;
  return config.resources.find((r) => r.resource === WILDCARD && (r.group === WILDCARD || r.group === group));
}

/**
 * Whether kollect's lists would hold the object: a namespaced one only in the configured namespaces,
 * and only where its resource's selectors take it (the flag `-l` is in them already). A field
 * selector is judged on the name and namespace only; a term on another field counts the object,
 * so that the gate errs towards too many rows, never too few.
 */
function wouldBeListed(config: KollectConfig, configured: ResourceConfig, object: { name: string; namespace: string; labels: unknown }): boolean {
  if (object.namespace !== '' && !inNamespaceScope(config.namespaces, object.namespace)) return false;
  const labels = object.labels && typeof object.labels === 'object' && !Array.isArray(object.labels) ? (object.labels as Record<string, string>) : {};
  if (configured.labelSelector !== undefined && !labelSelectorMatches(configured.labelSelector, labels)) return false;
  return (
    configured.fieldSelector === undefined ||
    fieldSelectorMatches(configured.fieldSelector, { 'metadata.name': object.name, 'metadata.namespace': object.namespace })
  );
}
