import assert from 'node:assert/strict';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import type { KubeSim } from './kube-sim/index.js';
import { tempDir } from './store-fixture.js';

/** Ways for kube-sim's own tests to talk to it: the real client over a kubeconfig, and plain HTTP. */

export const METADATA_LIST = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1';
export interface Meta {
  name: string;
  namespace?: string;
  uid: string;
  resourceVersion: string;
  labels?: Record<string, string>;
  managedFields?: unknown[];
}
export interface RawList {
  kind: string;
  apiVersion: string;
  metadata: { resourceVersion: string; continue?: string; remainingItemCount?: number };
  items: Array<{ kind?: string; apiVersion?: string; metadata: Meta; spec?: unknown; data?: Record<string, string> }>;
}
export interface Page {
  items: Array<{ metadata?: { uid?: string; name?: string; namespace?: string } }>;
  metadata?: { _continue?: string; remainingItemCount?: number };
}

/** The real client over a kubeconfig the simulator wrote. */
export async function kubeConfig(sim: KubeSim, options?: { withToken?: boolean }): Promise<KubeConfig> {
  const path = join(await tempDir('kube-sim-test-'), 'kubeconfig');
  await sim.writeKubeconfig(path, options);
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  return kc;
}

/** Every page of a list through the real client; returns the items and the pages' metadata. */
export async function listAll(list: (cont: string | undefined) => Promise<Page>): Promise<{ items: Page['items']; pages: Array<Page['metadata']> }> {
  const items: Page['items'] = [];
  const pages: Array<Page['metadata']> = [];
  let cont: string | undefined;
  do {
    const page = await list(cont);
    items.push(...page.items);
    pages.push(page.metadata);
    cont = page.metadata?._continue || undefined;
  } while (cont);
  return { items, pages };
}

export async function raw(sim: KubeSim, path: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; text: string }> {
  const response = await fetch(`${sim.url}${path}`, { headers: { authorization: `Bearer ${sim.token}`, ...headers } });
  return { status: response.status, headers: response.headers, text: await response.text() };
}

export async function rawJson<T>(
  sim: KubeSim,
  path: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; body: T; bytes: number }> {
  const response = await raw(sim, path, headers);
  return { status: response.status, headers: response.headers, body: JSON.parse(response.text) as T, bytes: Buffer.byteLength(response.text) };
}

/** Pages through a list with raw requests, returning every item and the bytes received. */
export async function rawListAll(sim: KubeSim, path: string, accept = 'application/json'): Promise<{ items: RawList['items']; bytes: number }> {
  const items: RawList['items'] = [];
  let bytes = 0;
  let cont = '';
  do {
    const page = await rawJson<RawList>(sim, `${path}?limit=500${cont ? `&continue=${encodeURIComponent(cont)}` : ''}`, { accept });
    assert.equal(page.status, 200, JSON.stringify(page.body));
    items.push(...page.body.items);
    bytes += page.bytes;
    cont = page.body.metadata.continue ?? '';
  } while (cont);
  return { items, bytes };
}

export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail('expected the request to fail');
}

/** CustomObjectsApi answers untyped JSON; its continue token is `metadata.continue`. */
export function toPage(body: unknown): Page {
  const list = body as { items: Page['items']; metadata?: { continue?: string } };
  return { items: list.items, metadata: { _continue: list.metadata?.continue } };
}
