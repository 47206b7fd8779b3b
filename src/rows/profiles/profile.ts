/**
 * An attribute profile: the lean list of fields a resource type keeps in its rows. Identity,
 * labels, creation time and resourceVersion are always kept; a profile adds named attributes.
 */
export interface Profile {
  /** Name used in config (`resources[].profile`). */
  name: string;
  /** Attribute name to path into the object (`status.phase`, `spec.containers[*].image`). */
  attributes: Readonly<Record<string, string>>;
  /**
   * Ask only for metadata (PartialObjectMetadataList) whatever the attributes say. Secrets use
   * it so that their data never leaves the API server.
   */
  forceMetadataOnly?: boolean;
}

/** True when the profile needs nothing outside `metadata`, so lists can ask for metadata only. */
export function isMetadataOnly(profile: Profile): boolean {
  return profile.forceMetadataOnly === true || Object.values(profile.attributes).every((path) => path.startsWith('metadata.'));
}

/** True when an attribute reads `metadata.managedFields`, which lists otherwise leave unparsed. */
export function readsManagedFields(profile: Profile): boolean {
  return Object.values(profile.attributes).some((path) => /^metadata\.managedFields\b/.test(path));
}
