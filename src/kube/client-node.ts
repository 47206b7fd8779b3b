/**
 * What kollect uses of @kubernetes/client-node (its only value import of the package, which lint
 * enforces): the bundle makes this module a file of its own (scripts/bundle.ts, vendor-kube-client.cjs),
 * loaded only by a run that talks to a cluster, and built from these names alone (1.2 of its 5.4 MB).
 */
export { KubeConfig } from '@kubernetes/client-node';
