import { hash2, mix32, unit } from './random.js';

/**
 * Object names that sort in the order they are numbered. The server pages in etcd key order
 * (namespace, then name) and a continue token names the last key served, so the object after a
 * key is found by binary search over generated names instead of over a stored index.
 *
 * Every name starts with an app name `adjective-noun` whose index increases with the number; what
 * follows it starts with `-`, which sorts before any letter or digit, so a longer word never
 * breaks the order ("amber-bear-x" < "amber-bearer-x").
 */

const ADJECTIVES = [
  'amber',
  'ancient',
  'bold',
  'brave',
  'bright',
  'calm',
  'clever',
  'cosmic',
  'crimson',
  'eager',
  'fancy',
  'gentle',
  'golden',
  'happy',
  'hidden',
  'jolly',
  'keen',
  'lively',
  'lucky',
  'mellow',
  'mighty',
  'noble',
  'polar',
  'proud',
  'quiet',
  'rapid',
  'shiny',
  'silent',
  'silver',
  'swift',
  'vivid',
  'wise',
];
const NOUNS = [
  'badger',
  'beacon',
  'bear',
  'bearer',
  'cedar',
  'comet',
  'falcon',
  'fjord',
  'forest',
  'gecko',
  'glacier',
  'harbor',
  'heron',
  'lantern',
  'lynx',
  'maple',
  'meadow',
  'nebula',
  'otter',
  'panda',
  'pebble',
  'pine',
  'raven',
  'river',
  'rocket',
  'sparrow',
  'summit',
  'tiger',
  'tundra',
  'walrus',
  'willow',
  'zephyr',
];

/** How many distinct app names there are; a namespace never needs more. */
export const APP_NAME_CAPACITY = ADJECTIVES.length * NOUNS.length;

/** The alphabet Kubernetes uses for generated name suffixes, in byte order. */
const SAFE = '2456789bcdfghjklmnpqrstvwxz';
const SUFFIX_SPACE = SAFE.length ** 5;

/**
 * The name of app `a` out of `apps` in one namespace: strictly increasing with `a`, spread over
 * the whole word space with a jitter from `salt` so that namespaces do not all look alike.
 */
export function appName(a: number, apps: number, salt: number): string {
  const stride = Math.floor(APP_NAME_CAPACITY / apps);
  const i = a * stride + Math.floor(unit(hash2(salt, a)) * stride);
  return `${ADJECTIVES[Math.floor(i / NOUNS.length)]}-${NOUNS[i % NOUNS.length]}`;
}

/** `length` characters of the safe alphabet from a hash, like a ReplicaSet's pod-template-hash. */
export function templateHash(h: number, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) {
    out += SAFE[h % SAFE.length];
    h = mix32(h + 1);
  }
  return out;
}

/**
 * The random-looking 5-character suffix of pod `k` out of `replicas` of one ReplicaSet: strictly
 * increasing with `k`, as names must be for the binary search.
 */
export function podSuffix(k: number, replicas: number, salt: number): string {
  const stride = Math.floor(SUFFIX_SPACE / replicas);
  let v = k * stride + Math.floor(unit(hash2(salt, k)) * stride);
  let out = '';
  for (let i = 0; i < 5; i++) {
    out = SAFE[v % SAFE.length]! + out;
    v = Math.floor(v / SAFE.length);
  }
  return out;
}

/** Node `j`'s name. */
export function nodeName(j: number): string {
  return `node-${String(j).padStart(6, '0')}`;
}

/** The first index in [0, n) whose key is >= `target` (n when none), for keys increasing with the index. */
export function lowerBound<T extends string | number>(n: number, keyAt: (i: number) => T, target: T): number {
  let lo = 0;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (keyAt(mid) < target) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
