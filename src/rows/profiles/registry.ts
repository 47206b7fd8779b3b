import { deploymentProfile } from './deployment.js';
import { metadataProfile } from './metadata.js';
import { namespaceProfile } from './namespace.js';
import { nodeProfile } from './node.js';
import { podProfile } from './pod.js';
import type { Profile } from './profile.js';
import { isSecretType, secretProfile } from './secret.js';
import { serviceProfile } from './service.js';
import { resourceTypeKey } from '../row.js';

/** Built-in profiles by name. Adding a kind: one file, one line here, one test (CONTRIBUTING.md). */
const builtinProfiles: ReadonlyMap<string, Profile> = new Map(
  [podProfile, deploymentProfile, serviceProfile, nodeProfile, namespaceProfile, secretProfile, metadataProfile].map((p) => [p.name, p]),
);

/** Default profile per resource type, by kubectl-style name (`pods`, `deployments.apps`). */
const defaultProfileByResource: Readonly<Record<string, string>> = {
  pods: 'pod',
  'deployments.apps': 'deployment',
  services: 'service',
  nodes: 'node',
  namespaces: 'namespace',
  secrets: 'secret',
};

export function profileNames(): string[] {
  return [...builtinProfiles.keys()];
}

/** The name of the profile a configured resource uses: the one it names, else the built-in default for the resource, else `metadata`. */
export function profileNameOf(resource: { resource: string; group: string; profile?: string | undefined }): string {
  return resource.profile ?? defaultProfileByResource[resourceTypeKey(resource)] ?? 'metadata';
}

/**
 * The profile for a configured resource (profileNameOf: custom from config first, then
 * built-in). Secrets are always metadata-only, whatever profile is named, so their data is never
 * requested. `custom` is the config's `profiles`, taken by shape: the config validates them and
 * imports from rows, so rows do not import the config.
 */
export function resolveProfile(
  resource: { resource: string; group: string; profile?: string | undefined },
  custom: Readonly<Record<string, Pick<Profile, 'attributes'>>>,
): Profile {
  const name = profileNameOf(resource);
  const customProfile = custom[name];
  const profile: Profile | undefined = customProfile ? { name, attributes: customProfile.attributes } : builtinProfiles.get(name);
  if (!profile) throw new Error(`unknown profile "${name}" (config validation should have caught it)`);
  return isSecretType(resource) ? { ...profile, forceMetadataOnly: true } : profile;
}
