import { buildLayout, type Layout } from './layout.js';
import { lowerBound } from './names.js';
import { OBJECT_SOURCES, type ObjectForm, type ObjectSource } from './objects.js';
import { hash2, hex8, randomStream } from './random.js';
import { NAMESPACED_SHARES, RESOURCE_TYPES, type ResourceType } from './resources.js';
import { matches, type ListFilter, type ServedObject } from './selectors.js';

/**
 * The simulated cluster's state: the layout, plus the few objects mutate() changed or removed.
 * Objects are addressed by position: a type's objects numbered in etcd key order (namespace,
 * then name), so a namespace's objects are one contiguous run of positions.
 */

export interface ObjectRef {
  /** The type's key: 'pods', 'deployments.apps', ... */
  type: string;
  /** '' for a cluster-scoped object. */
  namespace: string;
  name: string;
}

export interface ExpectedCounts {
  total: number;
  /** Key: 'pods', 'deployments.apps', 'widgets.example.com', ... */
  byType: Record<string, number>;
  /** '' holds the cluster-scoped objects; namespaces without objects are left out. */
  byNamespace: Record<string, number>;
}

export interface MutateOptions {
  change?: number;
  remove?: number;
  /** Only objects of these namespaces; all namespaces when absent. */
  namespaces?: string[];
  seed?: number;
}

/** What expectedCounts() counts; by default every object of every served type. */
export interface CountOptions {
  /** The types to count (default: every served type). */
  types?: readonly ResourceType[];
  /** The filter a type's lists apply, if any. */
  filterOf?: (type: ResourceType) => ListFilter | undefined;
  /** Count only lists inside these namespaces: cluster-scoped types are left out. */
  namespaces?: readonly string[];
}

/** The positions [lo, hi) of one list: a whole type, or one namespace of it. */
export interface Scope {
  type: ResourceType;
  lo: number;
  hi: number;
  /** Set for a list inside one namespace: its keys are then names alone, as in etcd under the namespace's prefix. */
  namespace?: string;
}

/** Object ids give each type this many positions. */
const TYPE_STRIDE = 2 ** 27;
/** Unchanged objects have resourceVersion FIRST_REVISION + id; writes count up from above all of them. */
const FIRST_REVISION = 1_000_000;

interface Change {
  round: number;
  resourceVersion: number;
}

export class Cluster {
  readonly layout: Layout;
  /** The base64 text every Secret value starts with (and nothing else contains). */
  readonly secretMarker: string;
  private readonly uidSalt: number;
  private readonly namespaceIndex: Map<string, number>;
  private revision = FIRST_REVISION + TYPE_STRIDE * RESOURCE_TYPES.length;
  private readonly removed = new Set<number>();
  private readonly changed = new Map<number, Change>();
  /** Keys of the types this cluster does not serve (their CRD is not installed, or was deleted). */
  private readonly unserved = new Set<string>();

  constructor(objects: number, seed: number) {
    this.layout = buildLayout(objects, seed);
    this.uidSalt = hash2(seed, 0x0b1d);
    this.namespaceIndex = new Map(this.layout.namespaces.map((ns, i) => [ns.name, i]));
    // 24 bytes of text encode to 32 base64 characters without padding, so the marker followed by
    // more base64 text is still valid base64.
    this.secretMarker = Buffer.from(`KUBE-SIM-SECRET-${hex8(hash2(seed, 0x5ec))}`).toString('base64');
  }

  /** The current etcd revision: what a list without a continue token is a snapshot of. */
  get resourceVersion(): number {
    return this.revision;
  }

  /** Whether this cluster serves `type`. */
  serves(type: ResourceType): boolean {
    return !this.unserved.has(type.key);
  }

  /** Stops serving the types of these keys ('widgets.example.com'), as when their CRDs are deleted. */
  removeTypes(keys: readonly string[]): void {
    for (const key of keys) {
      if (!RESOURCE_TYPES.some((t) => t.key === key)) {
        throw new RangeError(`kube-sim: there is no type ${key}; types: ${[...new Set(RESOURCE_TYPES.map((t) => t.key))].join(', ')}`);
      }
      this.unserved.add(key);
    }
  }

  /** Whether the object at `pos` of `type` passes `filter`, judged on the object as stored. */
  matches(type: ResourceType, pos: number, filter: ListFilter): boolean {
    return matches(filter, JSON.parse(this.json(type, pos, 'item')) as ServedObject);
  }

  /** The positions a list of `type` covers, cluster-wide or in one namespace. */
  scope(type: ResourceType, namespace?: string): Scope {
    const base = { type, lo: 0, ...(namespace !== undefined ? { namespace } : {}) };
    switch (type.population) {
      case 'none':
        return { ...base, hi: 0 };
      case 'namespaces':
        return { ...base, hi: this.layout.namespaces.length };
      case 'nodes':
        return { ...base, hi: this.layout.nodes };
      case 'namespaced': {
        const starts = this.starts(type);
        if (namespace === undefined) return { ...base, hi: starts[starts.length - 1]! };
        const i = this.namespaceIndex.get(namespace);
        // A namespace that does not exist lists as empty, as on a real server.
        return i === undefined ? { ...base, hi: 0 } : { ...base, lo: starts[i]!, hi: starts[i + 1]! };
      }
    }
  }

  /** The etcd key of the object at `pos`, relative to the list's prefix: `namespace/name` cluster-wide, `name` otherwise. */
  keyAt(scope: Scope, pos: number): string {
    const { ns, j } = this.locate(scope.type, pos);
    const name = this.source(scope.type).name(this.layout, ns, j);
    return ns && scope.namespace === undefined ? `${ns.name}/${name}` : name;
  }

  /** The first position of the scope whose key is >= `key`. */
  seek(scope: Scope, key: string): number {
    return scope.lo + lowerBound(scope.hi - scope.lo, (i) => this.keyAt(scope, scope.lo + i), key);
  }

  /** The positions from `from` on that hold an object (mutate() may have removed some). */
  *positions(scope: Scope, from: number): Generator<number> {
    const typeBase = this.typeBase(scope.type);
    for (let pos = from; pos < scope.hi; pos++) {
      if (this.removed.size === 0 || !this.removed.has(typeBase + pos)) yield pos;
    }
  }

  /** How many objects the scope holds after position `pos`. */
  remainingAfter(scope: Scope, pos: number): number {
    const typeBase = this.typeBase(scope.type);
    let gone = 0;
    for (const id of this.removed) if (id > typeBase + pos && id < typeBase + scope.hi) gone++;
    return scope.hi - pos - 1 - gone;
  }

  /** The object at `pos` of `type` as JSON. */
  json(type: ResourceType, pos: number, form: ObjectForm): string {
    const id = this.typeBase(type) + pos;
    const { ns, j } = this.locate(type, pos);
    const change = this.changed.get(id);
    return this.source(type).json(
      {
        layout: this.layout,
        ns,
        j,
        id,
        uidSalt: this.uidSalt,
        resourceVersion: change?.resourceVersion ?? FIRST_REVISION + id,
        round: change?.round ?? 0,
        secretMarker: this.secretMarker,
      },
      form,
    );
  }

  /** The position of the object `name` (in `namespace` for a namespaced type), if it exists. */
  find(type: ResourceType, namespace: string | undefined, name: string): number | undefined {
    if (type.population === 'none' || type.namespaced !== (namespace !== undefined)) return undefined;
    const scope = this.scope(type, namespace);
    const pos = this.seek(scope, name);
    if (pos >= scope.hi || this.keyAt(scope, pos) !== name || this.removed.has(this.typeBase(type) + pos)) return undefined;
    return pos;
  }

  /**
   * Changes `change` objects (a new label, a changed spec, a new resourceVersion, the same uid)
   * and removes `remove` others, all of namespaced types, chosen from `seed`: the same call on a
   * cluster in the same state always picks the same objects.
   */
  mutate(options: MutateOptions): { changed: ObjectRef[]; removed: ObjectRef[] } {
    const wanted = (options.change ?? 0) + (options.remove ?? 0);
    const namespaces = new Set(
      (options.namespaces ?? this.layout.namespaces.map((ns) => ns.name)).map((name) => {
        const i = this.namespaceIndex.get(name);
        if (i === undefined) throw new Error(`kube-sim: mutate: there is no namespace ${name}`);
        return i;
      }),
    );
    // One run of candidates per (namespace, type), with cumulative sizes to pick from.
    const runs: Array<{ type: ResourceType; pos: number; end: number }> = [];
    const types = NAMESPACED_SHARES.map((t) => RESOURCE_TYPES.find((r) => r.resource === t.resource)!).filter((t) => this.serves(t));
    for (const i of namespaces) {
      for (const type of types) {
        const starts = this.starts(type);
        runs.push({ type, pos: starts[i]!, end: starts[i + 1]! });
      }
    }
    const ends: number[] = [];
    for (const run of runs) ends.push((ends[ends.length - 1] ?? 0) + run.end - run.pos);
    const candidates = ends[ends.length - 1] ?? 0;
    let live = candidates;
    for (const id of this.removed) if (namespaces.has(this.namespaceIndex.get(this.locateId(id).ns!.name)!)) live--;
    if (wanted > live) throw new Error(`kube-sim: mutate: asked for ${wanted} objects, only ${live} exist there`);

    const random = randomStream(hash2(options.seed ?? 1, this.uidSalt));
    const picked = new Set<number>();
    const result: { changed: ObjectRef[]; removed: ObjectRef[] } = { changed: [], removed: [] };
    while (picked.size < wanted) {
      const q = Math.floor(random() * candidates);
      const r = lowerBound(runs.length, (k) => ends[k]!, q + 1);
      const run = runs[r]!;
      const pos = run.pos + q - (r > 0 ? ends[r - 1]! : 0);
      const id = this.typeBase(run.type) + pos;
      if (picked.has(id) || this.removed.has(id)) continue;
      picked.add(id);
      const { ns, j } = this.locate(run.type, pos);
      const ref: ObjectRef = { type: run.type.key, namespace: ns!.name, name: this.source(run.type).name(this.layout, ns, j) };
      this.revision++;
      if (result.changed.length < (options.change ?? 0)) {
        this.changed.set(id, { round: (this.changed.get(id)?.round ?? 0) + 1, resourceVersion: this.revision });
        result.changed.push(ref);
      } else {
        this.removed.add(id);
        this.changed.delete(id);
        result.removed.push(ref);
      }
    }
    return result;
  }

  /**
   * Exactly what complete lists of the counted types would return (each type listed in every
   * namespace, or only in `namespaces`), counted from the layout tables, or object by object when
   * a filter applies.
   */
  expectedCounts(options: CountOptions = {}): ExpectedCounts {
    const types = options.types ?? RESOURCE_TYPES.filter((t) => this.serves(t));
    const namespaces = options.namespaces ?? this.layout.namespaces.map((ns) => ns.name);
    const byType: Record<string, number> = {};
    const byNamespace: Record<string, number> = {};
    for (const type of types) {
      const filter = options.filterOf?.(type);
      if (!type.namespaced && options.namespaces) continue;
      const scopes = type.namespaced ? namespaces.map((ns) => this.scope(type, ns)) : [this.scope(type)];
      byType[type.key] ??= 0;
      for (const scope of scopes) {
        const n = filter ? this.countMatching(scope, filter) : this.remainingAfter(scope, scope.lo - 1);
        byType[type.key]! += n;
        const ns = scope.namespace ?? '';
        if (n > 0) byNamespace[ns] = (byNamespace[ns] ?? 0) + n;
      }
    }
    const total = Object.values(byNamespace).reduce((a, b) => a + b, 0);
    return { total, byType, byNamespace };
  }

  private countMatching(scope: Scope, filter: ListFilter): number {
    let n = 0;
    for (const pos of this.positions(scope, scope.lo)) if (this.matches(scope.type, pos, filter)) n++;
    return n;
  }

  private source(type: ResourceType): ObjectSource {
    const source = OBJECT_SOURCES[type.resource];
    if (!source) throw new Error(`kube-sim: ${type.key} has no objects`);
    return source;
  }

  private starts(type: ResourceType): number[] {
    return this.layout.starts[NAMESPACED_SHARES.findIndex((t) => t.resource === type.resource)]!;
  }

  private typeBase(type: ResourceType): number {
    return RESOURCE_TYPES.indexOf(type) * TYPE_STRIDE;
  }

  /** The namespace (for a namespaced type) and number within it of the object at `pos`. */
  private locate(type: ResourceType, pos: number): { ns: Layout['namespaces'][number] | undefined; j: number } {
    if (type.population !== 'namespaced') return { ns: undefined, j: pos };
    const starts = this.starts(type);
    // The last namespace whose run starts at or before pos (empty namespaces share a start).
    const i = lowerBound(starts.length, (k) => starts[k]!, pos + 1) - 1;
    return { ns: this.layout.namespaces[i]!, j: pos - starts[i]! };
  }

  /** The type and namespace of object `id`. */
  private locateId(id: number): { type: ResourceType; ns: Layout['namespaces'][number] | undefined } {
    const type = RESOURCE_TYPES[Math.floor(id / TYPE_STRIDE)]!;
    return { type, ns: this.locate(type, id % TYPE_STRIDE).ns };
  }
}
