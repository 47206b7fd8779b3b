import type { Profile } from './profile.js';

/** Identity, labels and timestamps only: the default for any resource without its own profile. */
export const metadataProfile: Profile = {
  name: 'metadata',
  attributes: {},
};
