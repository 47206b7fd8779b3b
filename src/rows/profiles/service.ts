import type { Profile } from './profile.js';

export const serviceProfile: Profile = {
  name: 'service',
  attributes: {
    type: 'spec.type',
    clusterIP: 'spec.clusterIP',
    ports: 'spec.ports[*].port',
  },
};
