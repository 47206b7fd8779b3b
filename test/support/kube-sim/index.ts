import { randomBytes } from 'node:crypto';
import { createServer as createHttpServer, type Server } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { Cluster, type ExpectedCounts, type MutateOptions, type ObjectRef } from './cluster.js';
import { Faults, type Fault } from './faults.js';
import { writeKubeconfig, type KubeconfigOptions } from './kubeconfig.js';
import { discoveryDocuments } from './routes.js';
import { requestHandler, type KubeSimStats, type ServerState } from './server.js';
import { createServerCertificate } from '../tls.js';

/**
 * kube-sim: a local Kubernetes API server for tests, the demo and benchmarks. It speaks the real
 * protocol to real clients (discovery, paginated lists with continue tokens and their expiry,
 * PartialObjectMetadataList, bearer tokens, TLS) over objects generated from a seed on the fly,
 * so a million objects cost no memory, and it injects faults on request.
 */

export type { ExpectedCounts, Fault, KubeSimStats, ObjectRef };

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
  /** Exactly what complete lists of every served type return, by type and by namespace. */
  expectedCounts(): ExpectedCounts;
  writeKubeconfig(path: string, opts?: KubeconfigOptions): Promise<void>;
  /** Stops the server and closes every connection. */
  close(): Promise<void>;
}

export async function startKubeSim(options: KubeSimOptions): Promise<KubeSim> {
  const cluster = new Cluster(options.objects, options.seed ?? 1);
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
    documents: () => (documents ??= discoveryDocuments(addressOf(server))),
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
    expectedCounts: () => cluster.expectedCounts(),
    writeKubeconfig: (path, opts) => writeKubeconfig(path, { url, token: state.token, ...(tls ? { caPem: tls.caPem } : {}) }, opts),
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        server.closeAllConnections();
      }),
  };
}

/** `host:port`, with an IPv6 host in brackets. */
function addressOf(server: Server): string {
  const { address, port } = server.address() as AddressInfo;
  return `${address.includes(':') ? `[${address}]` : address}:${port}`;
}
