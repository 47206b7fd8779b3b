import type { Profile } from './profile.js';

export const namespaceProfile: Profile = {
  name: 'namespace',
  attributes: {
    phase: 'status.phase',
  },
};
