import { compareKeys } from '../compare.js';
import { compileAttributePath, type AttributeGetter } from './attribute-path.js';
import { canonicalJson, digest } from './checksum.js';
import type { Profile } from './profiles/profile.js';
import { dropSecretData, isSecretType } from './profiles/secret.js';
import type { ResourceType, Row } from './row.js';

/** What a projector needs to know of the listed type (from discovery). */
export interface ProjectedType extends ResourceType {
  kind: string;
}

interface ObjectMeta {
  name?: string;
  namespace?: string;
  uid?: string;
  labels?: Record<string, string>;
  creationTimestamp?: string;
  resourceVersion?: string;
}

/** A listed object: full, or PartialObjectMetadata with only `metadata`. */
export interface KubeObject {
  metadata?: ObjectMeta;
  [field: string]: unknown;
}

export type Projector = (object: KubeObject) => Row;

/** A profile's attributes as getters, in name order: rows built in that order have their attribute keys sorted. */
export function attributeGetters(profile: Profile): Array<[string, AttributeGetter]> {
  return Object.entries(profile.attributes)
    .sort(compareKeys)
    .map(([name, path]) => [name, compileAttributePath(path)]);
}

/**
 * Builds the function that turns one listed object (full or PartialObjectMetadata) into a row.
 * The checksum covers everything but resourceVersion (and never sees managedFields), so it is
 * stable while the object's kept content is unchanged.
 */
export function createProjector(cluster: string, type: ProjectedType, profile: Profile): Projector {
  const getters = attributeGetters(profile);
  const secret = isSecretType(type);
  return (object) => {
    if (secret) dropSecretData(object);
    const meta = object.metadata ?? {};
    const attributes: Record<string, unknown> = {};
    for (const [name, get] of getters) {
      const value = get(object);
      if (value !== undefined) attributes[name] = value;
    }
    const row: Row = {
      cluster,
      namespace: meta.namespace ?? '',
      name: meta.name ?? '',
      uid: meta.uid ?? '',
      apiGroup: type.group,
      apiVersion: type.version,
      kind: type.kind,
      resource: type.resource,
      labels: meta.labels ?? {},
      attributes,
      createdAt: meta.creationTimestamp ?? null,
      resourceVersion: meta.resourceVersion ?? '',
      checksum: '',
    };
    row.checksum = rowChecksum(row);
    return row;
  };
}

/** Checksum of a row's content: identity and kept fields, without resourceVersion. */
export function rowChecksum(row: Row): string {
  return digest(
    canonicalJson([row.cluster, row.namespace, row.name, row.uid, row.apiGroup, row.apiVersion, row.kind, row.labels, row.attributes, row.createdAt]),
  );
}
