import type { Profile } from './profile.js';

/** Never a Secret's data: only metadata is requested, so values never leave the API server. */
export const secretProfile: Profile = {
  name: 'secret',
  attributes: {},
  forceMetadataOnly: true,
};
