import type { Profile } from './profile.js';

export const nodeProfile: Profile = {
  name: 'node',
  attributes: {
    kubeletVersion: 'status.nodeInfo.kubeletVersion',
    osImage: 'status.nodeInfo.osImage',
    architecture: 'status.nodeInfo.architecture',
    podCIDR: 'spec.podCIDR',
    unschedulable: 'spec.unschedulable',
  },
};
