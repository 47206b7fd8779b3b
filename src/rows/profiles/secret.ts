import { parseAttributePath } from '../attribute-path.js';
import type { ResourceType } from '../row.js';
import type { Profile } from './profile.js';

/** Never a Secret's data: only metadata is requested, so values never leave the API server. */
export const secretProfile: Profile = {
  name: 'secret',
  attributes: {},
  forceMetadataOnly: true,
};

/** `kubectl apply` (client-side) stores the object it applied here: for a Secret, its whole data. */
export const LAST_APPLIED_ANNOTATION = 'kubectl.kubernetes.io/last-applied-configuration';

/** The core group's Secrets: the one type whose rows must never carry its data. */
export function isSecretType(type: Pick<ResourceType, 'group' | 'resource'>): boolean {
  return type.group === '' && type.resource === 'secrets';
}

/** The fields of a Secret that hold its data, as attribute paths and their keys. */
const SECRET_DATA_FIELDS: ReadonlyArray<{ path: string; keys: readonly string[] }> = [
  'data',
  'stringData',
  `metadata.annotations["${LAST_APPLIED_ANNOTATION}"]`,
].map((path) => ({
  path,
  keys: parseAttributePath(path).map((step) => (step.kind === 'key' ? step.key : '')),
}));

/**
 * The field holding a Secret's data that the attribute path `path` would read, or undefined: the
 * field itself, something inside it, or something that holds it (`metadata`,
 * `metadata.annotations`). However the path is written (`metadata["annotations"]` too).
 */
export function secretDataReadBy(path: string): string | undefined {
  const steps = parseAttributePath(path);
  const field = SECRET_DATA_FIELDS.find(({ keys }) => {
    const shared = Math.min(keys.length, steps.length);
    for (let i = 0; i < shared; i++) {
      const step = steps[i]!;
      // An index or [*] into an object reads nothing: the path leaves the field there.
      if (step.kind !== 'key' || step.key !== keys[i]) return false;
    }
    return true;
  });
  return field?.path;
}

/**
 * Removes what holds a Secret's data from a listed Secret, before any attribute reads it: data
 * and stringData (a metadata-only list has none, unless the server is hostile) and the
 * last-applied annotation (also as a label key: a server may send anything). Whatever the
 * profile, a Secret's row then never carries them; config validation refuses profiles that ask.
 * Any object will do (a KubeObject is one): projection imports this file, not the other way.
 */
export function dropSecretData(object: Record<string, unknown>): void {
  delete object.data;
  delete object.stringData;
  const meta = object.metadata as { annotations?: unknown; labels?: unknown } | undefined;
  for (const map of [meta?.annotations, meta?.labels]) {
    if (map !== null && typeof map === 'object' && LAST_APPLIED_ANNOTATION in map) delete (map as Record<string, unknown>)[LAST_APPLIED_ANNOTATION];
  }
}
