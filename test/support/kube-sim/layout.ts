import { APP_NAME_CAPACITY } from './names.js';
import { hash2, randomStream } from './random.js';
import { NAMESPACED_SHARES } from './resources.js';

/**
 * How a simulated cluster of `objects` objects is laid out: its namespaces, how many objects of
 * each namespaced type each one holds, and its nodes. A few small tables, so that a million
 * objects cost no memory: the objects themselves are generated from (seed, position) when served.
 */

export interface NamespaceLayout {
  name: string;
  /** Objects of each NAMESPACED_SHARES type, in that order. */
  counts: number[];
  /** Distinct app names the namespace's objects are named after. */
  apps: number;
  /** Pods per Deployment. */
  replicas: number;
  /** Varies the names and values of this namespace's objects. */
  salt: number;
}

export interface Layout {
  /** In etcd key order (by name). */
  namespaces: NamespaceLayout[];
  nodes: number;
  /** starts[t][i]: objects of namespaced type t in the namespaces before namespace i; starts[t][namespaces.length] is the type's total. */
  starts: number[][];
}

/** The smallest cluster whose shape still makes sense: three nodes and a few namespaces. */
export const MIN_OBJECTS = 50;
/** Object ids give each type 2^27 positions. */
export const MAX_OBJECTS = 100_000_000;

/** Namespaced objects in the oversize namespace and the two large ones at full scale (>= 10,000 objects). */
const BIG_NAMESPACES: ReadonlyArray<{ name: string; size: number }> = [
  { name: 'payments-prod', size: 2700 },
  { name: 'checkout-prod', size: 2300 },
  { name: 'search-prod', size: 2150 },
];
/** The other namespaces average this many objects at full scale, and stay under SMALL_MAX. */
const SMALL_AVERAGE = 1000;
const SMALL_MAX = 1450;
const FULL_SCALE = 10_000;

const PLATFORM = ['default', 'kube-system', 'monitoring', 'ingress-nginx', 'cert-manager'];
const TEAMS = [
  'analytics',
  'billing',
  'catalog',
  'data',
  'frontend',
  'growth',
  'identity',
  'inventory',
  'ledger',
  'logistics',
  'marketing',
  'media',
  'mobile',
  'notifications',
  'orders',
  'platform',
  'pricing',
  'profiles',
  'recommendations',
  'reviews',
  'risk',
  'shipping',
  'support',
  'tooling',
  'web',
];
const ENVS = ['dev', 'prod', 'qa', 'staging'];

/** Small namespace `i`'s name: platform namespaces first, then team-env, then team-env2, ... */
function smallNamespaceName(i: number): string {
  if (i < PLATFORM.length) return PLATFORM[i]!;
  const k = i - PLATFORM.length;
  const round = Math.floor(k / (TEAMS.length * ENVS.length));
  return `${TEAMS[k % TEAMS.length]}-${ENVS[Math.floor(k / TEAMS.length) % ENVS.length]}${round > 0 ? round + 1 : ''}`;
}

/** Splits `total` into parts proportional to `weights`, exactly (largest remainders get the leftovers). */
function apportion(total: number, weights: number[]): number[] {
  const sum = weights.reduce((a, b) => a + b, 0);
  const exact = weights.map((w) => (total * w) / sum);
  const parts = exact.map(Math.floor);
  let left = total - parts.reduce((a, b) => a + b, 0);
  const byRemainder = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r);
  for (let k = 0; left > 0; k++, left--) parts[byRemainder[k % parts.length]!.i]!++;
  return parts;
}

/** Small namespace sizes: varied, summing to `total`, none above `max` (which the average leaves room for). */
function smallSizes(total: number, count: number, max: number, random: () => number): number[] {
  const sizes = apportion(
    total,
    Array.from({ length: count }, () => 0.6 + 0.8 * random()),
  );
  let excess = 0;
  for (let i = 0; i < sizes.length; i++) {
    if (sizes[i]! > max) {
      excess += sizes[i]! - max;
      sizes[i] = max;
    }
  }
  for (let i = 0; excess > 0; i = (i + 1) % sizes.length) {
    const room = Math.min(excess, max - sizes[i]!);
    sizes[i]! += room;
    excess -= room;
  }
  return sizes;
}

/** Pods of Deployment `a` of a namespace: pods are numbered app by app, `replicas` each. */
export function deploymentReplicas(ns: NamespaceLayout, a: number): number {
  const pods = ns.counts[NAMESPACED_SHARES.findIndex((t) => t.resource === 'pods')]!;
  return Math.max(0, Math.min(ns.replicas, pods - a * ns.replicas));
}

function namespaceLayout(name: string, size: number, salt: number, random: () => number): NamespaceLayout {
  const counts = apportion(
    size,
    NAMESPACED_SHARES.map((t) => t.share * (0.85 + 0.3 * random())),
  );
  const [pods, configmaps, secrets, services, deployments, widgets] = counts as [number, number, number, number, number, number];
  // Every pod belongs to a Deployment: replicas is chosen so that the pods fill the Deployments.
  const replicas = Math.max(1, Math.ceil(pods / Math.max(1, deployments)));
  const apps = Math.max(1, deployments, services, Math.ceil(configmaps / 2), secrets, widgets, Math.ceil(pods / replicas));
  if (apps > APP_NAME_CAPACITY) throw new Error(`kube-sim: namespace ${name} needs ${apps} app names; only ${APP_NAME_CAPACITY} exist`);
  return { name, counts, apps, replicas, salt };
}

/**
 * The layout for `objects` objects in all: namespaces + nodes + namespaced objects add up to it
 * exactly. From 10,000 objects on, one namespace holds ~2,700 namespaced objects, two hold
 * 2,000-2,500, and the rest ~1,000 each (at most SMALL_MAX), so their number grows with the
 * cluster; below 10,000 the same shape is scaled down.
 */
export function buildLayout(objects: number, seed: number): Layout {
  if (!Number.isInteger(objects) || objects < MIN_OBJECTS || objects > MAX_OBJECTS) {
    throw new RangeError(`kube-sim: objects must be an integer from ${MIN_OBJECTS} to ${MAX_OBJECTS}, got ${objects}`);
  }
  const random = randomStream(hash2(seed, 0x1a7e));
  const scale = Math.min(1, objects / FULL_SCALE);
  const nodes = Math.max(3, Math.round(objects / 250));
  const big = BIG_NAMESPACES.map((b) => ({ name: b.name, size: Math.round(b.size * scale * (0.98 + 0.04 * random())) }));
  // Objects left for the small namespaces and their Namespace objects: each takes ~SMALL_AVERAGE + 1.
  const left = objects - nodes - big.length - big.reduce((a, b) => a + b.size, 0);
  const smallCount = Math.max(1, Math.ceil(left / (SMALL_AVERAGE * scale + 1)));
  const sizes = smallSizes(left - smallCount, smallCount, Math.floor(SMALL_MAX * scale), random);

  const unsorted = [
    ...big.map((b, i) => namespaceLayout(b.name, b.size, hash2(seed, i), random)),
    ...sizes.map((size, i) => namespaceLayout(smallNamespaceName(i), size, hash2(seed, big.length + i), random)),
  ];
  const namespaces = unsorted.sort((a, b) => (a.name < b.name ? -1 : 1));
  // Namespaced keys are `namespace/name`: the order by name must also be the order of name + '/',
  // which it is unless one name is another's prefix followed by '-' or '.'.
  for (let i = 1; i < namespaces.length; i++) {
    if (`${namespaces[i - 1]!.name}/` >= `${namespaces[i]!.name}/`)
      throw new Error(`kube-sim: namespace names ${namespaces[i - 1]!.name} and ${namespaces[i]!.name} break etcd key order`);
  }
  const starts = NAMESPACED_SHARES.map((_, t) => {
    const s = [0];
    for (const ns of namespaces) s.push(s[s.length - 1]! + ns.counts[t]!);
    return s;
  });
  return { namespaces, nodes, starts };
}
