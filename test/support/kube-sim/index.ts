import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { KubeSimRbac } from './access.js';
import { Cluster, type ExpectedCounts, type MutateOptions, type ObjectRef } from './cluster.js';
import { Faults, type Fault } from './faults.js';
import { writeKubeconfig, type KubeconfigOptions } from './kubeconfig.js';
import { discoveryDocuments } from './routes.js';
import { RESOURCE_TYPES, type ResourceType } from './resources.js';
import { parseFieldSelector, parseLabelSelector, type ListFilter } from './selectors.js';
import { requestHandler, type KubeSimStats, type ServerState } from './server.js';
import { createServerCertificate } from '../tls.js';

/**
 * kube-sim: a local Kubernetes API server for tests, the demo and benchmarks. It speaks the real
 * protocol to real clients (discovery, paginated lists with continue tokens and their expiry,
 * PartialObjectMetadataList, bearer tokens, TLS) over objects generated from a seed on the fly,
 * so a million objects cost no memory, and it injects faults on request.
 */

export type { ExpectedCounts, Fault, KubeSimRbac, KubeSimStats, ObjectRef };

/** What a filtered expectedCounts() counts: the objects lists with these options return. */
export interface CountFilter {
  /** A label selector, as a list's `labelSelector` takes it. */
  labelSelector?: string;
  /** A field selector; types that do not support one of its fields are left out, as their lists answer 400. */
  fieldSelector?: string;
  /** Only the lists inside these namespaces: cluster-scoped types are left out. */
  namespaces?: string[];
}

export interface KubeSimOptions {
  /** Objects in all, cluster-scoped ones included (at least 50). */
  objects: number;
  /** Same seed, same cluster (default 1). */
  seed?: number;
  /** Serve https with a CA made at start (default false). */
  tls?: boolean;
  /** The bearer token to require (default: random per start). */
  token?: string;
  /** Default: any free port. */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** How long a list may take before its continue token expires (default 300,000 ms, etcd's compaction interval). */
  continueTtlMs?: number;
  /** Gzip bodies of 128 KiB or more when the client accepts gzip, like the real server (default false). */
  compression?: boolean;
  /**
   * Objects served as they are after the generated ones, on the last page of a cluster-wide list
   * of their type (key: 'configmaps', 'deployments.apps'), as a hostile or broken server might
   * serve them: with names no real server accepts, or a Secret's last-applied annotation.
   * Neither GET nor expectedCounts() knows them.
   */
  extraObjects?: Readonly<Record<string, ReadonlyArray<Record<string, unknown>>>>;
  /**
   * Type keys ('widgets.example.com', 'certificates.cert-manager.io') this cluster does not serve,
   * as when their CRDs are not installed: absent from discovery (a group left without types is
   * absent too), their paths answer 404 as the real server does (a plain-text "404 page not found"
   * for a CRD's group or a group version no longer served, a NotFound Status under a served
   * built-in group version), and expectedCounts() leaves them out.
   */
  withoutTypes?: string[];
  /**
   * Groups ('metrics.k8s.io') whose aggregated API is down: still in /apis and /apis/{group}, but
   * /apis/{group}/{version} and every path under it answer 503 with the aggregator's plain-text
   * "service unavailable" (not a Status). expectedCounts() leaves their types out.
   */
  unavailableGroups?: string[];
  /**
   * What the client may read (default: everything). With it, a namespaced type listed
   * cluster-wide is 403 unless `clusterWide`; in namespace N, 403 unless `clusterWide` or N is in
   * `namespaces`; namespaces are 403 unless `listNamespaces` or `clusterWide`; other
   * cluster-scoped types 403 unless `clusterWide`. The 403 is the authorizer's Status, worded
   * `... at the cluster scope` or `... in the namespace "N"`.
   */
  rbac?: KubeSimRbac;
}

export interface KubeSim {
  /** The server's base URL. */
  url: string;
  token: string;
  /** The CA that signs the server's certificate, with tls. */
  caPem?: string;
  /** The base64 text every Secret value starts with, and nothing else the server sends contains. */
  secretMarker: string;
  /** Live counters since the start or the last resetStats(). */
  stats: KubeSimStats;
  resetStats(): void;
  /** Arms a fault; faults fire in the order they were injected. */
  inject(fault: Fault): void;
  clearFaults(): void;
  /**
   * Changes `change` objects (new labels/spec, bumped resourceVersion, same uid) and removes
   * `remove` objects of namespaced types, chosen deterministically from `seed`, optionally only
   * in the given namespaces. expectedCounts() reflects the removals.
   */
  mutate(opts: MutateOptions): { changed: ObjectRef[]; removed: ObjectRef[] };
  /**
   * Stops serving these types at run time, as when their CRDs are deleted between two runs (see
   * KubeSimOptions.withoutTypes).
   */
  removeTypes(keys: string[]): void;
  /**
   * Exactly what complete lists of every served and available type return, by type and by
   * namespace, to an identity that may read everything. With a filter: what lists with those
   * selectors return (evaluated object by object: meant for small clusters), inside the given
   * namespaces. The generated objects carry the labels `app` (per app), `team` (the namespace's
   * first word), `tier` (api, cache, frontend, worker, batch); pods also `pod-template-hash`, and
   * status.phase Pending (about one in 53) or Running; namespaces `team` and
   * `kubernetes.io/metadata.name`; nodes the kubernetes.io and topology labels.
   */
  expectedCounts(filter?: CountFilter): ExpectedCounts;
  writeKubeconfig(path: string, opts?: KubeconfigOptions): Promise<void>;
  /** Stops the server and closes every connection. */
  close(): Promise<void>;
}

export async function startKubeSim(options: KubeSimOptions): Promise<KubeSim> {
  const cluster = new Cluster(options.objects, options.seed ?? 1);
  cluster.removeTypes(options.withoutTypes ?? []);
  const unavailableGroups = new Set(options.unavailableGroups ?? []);
  for (const group of unavailableGroups) {
    if (!RESOURCE_TYPES.some((t) => t.group === group && t.group !== '')) throw new RangeError(`kube-sim: there is no group ${group} to make unavailable`);
  }
  const host = options.host ?? '127.0.0.1';
  const tls = options.tls ? await createServerCertificate(host) : undefined;
  const faults = new Faults();
  const stats: KubeSimStats = { requests: 0, bytes: 0, byPath: {}, lists: 0 };
  let documents: Map<string, string> | undefined;
  const state: ServerState = {
    cluster,
    faults,
    stats,
    token: options.token ?? randomBytes(24).toString('base64url'),
    continueTtlMs: options.continueTtlMs ?? 300_000,
    compression: options.compression ?? false,
    extraObjects: options.extraObjects ?? {},
    documents: () => (documents ??= discoveryDocuments(addressOf(server), { serves: (t) => cluster.serves(t), unavailableGroups })),
    unavailableGroups,
    rbac: options.rbac,
  };
  const handler = requestHandler(state);
  const server: Server = tls ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, handler) : createHttpServer(handler);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const url = `${tls ? 'https' : 'http'}://${addressOf(server)}`;

  return {
    url,
    token: state.token,
    ...(tls ? { caPem: tls.caPem } : {}),
    secretMarker: cluster.secretMarker,
    stats,
    resetStats() {
      Object.assign(stats, { requests: 0, bytes: 0, byPath: {}, lists: 0 });
    },
    inject: (fault) => faults.inject(fault),
    clearFaults: () => faults.clear(),
    mutate: (opts) => cluster.mutate(opts),
    removeTypes(keys) {
      cluster.removeTypes(keys);
      documents = undefined;
    },
    expectedCounts: (filter) => cluster.expectedCounts(countOptions(filter, (t) => cluster.serves(t) && !unavailableGroups.has(t.group))),
    writeKubeconfig: (path, opts) => writeKubeconfig(path, { url, token: state.token, ...(tls ? { caPem: tls.caPem } : {}) }, opts),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** The types and per-type filters a filtered count covers; a selector that does not parse is the test's mistake. */
function countOptions(filter: CountFilter | undefined, listable: (type: ResourceType) => boolean): Parameters<Cluster['expectedCounts']>[0] {
  const labels = parseLabelSelector(filter?.labelSelector ?? '');
  if ('invalid' in labels) throw new RangeError(`kube-sim: expectedCounts: ${labels.invalid}`);
  const filters = new Map<ResourceType, ListFilter>();
  for (const type of RESOURCE_TYPES.filter(listable)) {
    const fields = parseFieldSelector(filter?.fieldSelector ?? '', type);
    if (!('invalid' in fields)) filters.set(type, { labels, fields });
    else if (!fields.invalid.startsWith('field label not supported')) throw new RangeError(`kube-sim: expectedCounts: ${fields.invalid}`);
  }
  const selective = labels.length > 0 || (filter?.fieldSelector ?? '') !== '';
  return {
    types: [...filters.keys()],
    ...(selective ? { filterOf: (type: ResourceType) => filters.get(type) } : {}),
    ...(filter?.namespaces ? { namespaces: filter.namespaces } : {}),
  };
}

/** `host:port`, with an IPv6 host in brackets. */
function addressOf(server: Server): string {
  const { address, port } = server.address() as AddressInfo;
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}
