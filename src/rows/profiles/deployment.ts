import type { Profile } from './profile.js';

export const deploymentProfile: Profile = {
  name: 'deployment',
  attributes: {
    replicas: 'spec.replicas',
    readyReplicas: 'status.readyReplicas',
    strategy: 'spec.strategy.type',
    images: 'spec.template.spec.containers[*].image',
  },
};
