import type { Profile } from './profile.js';

export const podProfile: Profile = {
  name: 'pod',
  attributes: {
    phase: 'status.phase',
    node: 'spec.nodeName',
    qosClass: 'status.qosClass',
    serviceAccount: 'spec.serviceAccountName',
    images: 'spec.containers[*].image',
    ownerKind: 'metadata.ownerReferences[0].kind',
    ownerName: 'metadata.ownerReferences[0].name',
  },
};
