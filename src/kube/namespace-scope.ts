import type { NamespaceScope } from '../config/schema.js';
import type { KubeClient } from './client.js';
import { listBodies, type ListOptions } from './pager.js';
import type { RequestDeps } from './request.js';

/** A namespace glob (`team-*`, `?` for one character) as a regular expression over whole names. */
export function namespaceGlob(glob: string): RegExp {
  return new RegExp(`^${glob.replace(/[*?]/g, (c) => (c === '*' ? '[-a-z0-9]*' : '[-a-z0-9]'))}$`);
}

const isGlob = (pattern: string): boolean => /[*?]/.test(pattern);

/** Whether the configuration limits namespaces at all (the default includes every one and excludes none). */
export function isNamespaceScoped(scope: NamespaceScope): boolean {
  return scope.exclude.length > 0 || !scope.include.includes('*');
}

/** Whether the scope takes `namespace`. */
export function inNamespaceScope(scope: NamespaceScope, namespace: string): boolean {
  const matches = (pattern: string): boolean => namespaceGlob(pattern).test(namespace);
  return scope.include.some(matches) && !scope.exclude.some(matches);
}

/** The namespaces to list one by one, or, when a glob could not be expanded, the literal ones and why the rest are unknown. */
export interface ScopedNamespaces {
  names: string[];
  /** The namespaces exclude leaves out: its literal names, and those its globs matched. */
  excluded: string[];
  /** Set when listing namespaces was refused (403) and an include glob needed it: the scope is only partly known. */
  unexpanded?: string;
}

/**
 * The namespaces the scope takes, in name order. Literal names need no request; a glob in
 * `include` (`*` included) needs `list` on namespaces to expand, done once here with the names
 * only (PartialObjectMetadataList). Exclude globs match whatever include gave.
 */
export async function scopedNamespaces(
  client: KubeClient,
  scope: NamespaceScope,
  list: Omit<ListOptions, 'metadataOnly'>,
  deps: RequestDeps,
): Promise<ScopedNamespaces> {
  const literal = scope.include.filter((p) => !isGlob(p));
  let listed: string[] = [];
  let unexpanded: string | undefined;
  if (literal.length < scope.include.length) {
    const namespaces = { group: '', version: 'v1', resource: 'namespaces' };
    for await (const event of listBodies(client, namespaces, { ...list, metadataOnly: true }, deps)) {
      if (event.kind === 'forbidden') {
        unexpanded = `the namespace globs of namespaces.include need list on namespaces: ${event.message}`;
        break;
      }
      if (event.kind === 'restart') {
        listed = [];
        continue;
      }
      const page = JSON.parse(event.body.toString('utf8')) as { items?: Array<{ metadata?: { name?: unknown } }> };
      for (const item of page.items ?? []) if (typeof item.metadata?.name === 'string') listed.push(item.metadata.name);
    }
  }
  const known = [...new Set([...literal, ...listed])];
  const names = known.filter((name) => inNamespaceScope(scope, name)).sort();
  const excludes = (name: string): boolean => scope.exclude.some((p) => namespaceGlob(p).test(name));
  const excluded = [...new Set([...scope.exclude.filter((p) => !isGlob(p)), ...known.filter(excludes)])].sort();
  return unexpanded === undefined ? { names, excluded } : { names, excluded, unexpanded };
}

/**
 * With every namespace included but some excluded, one cluster-wide list per type still works:
 * the API server leaves out the excluded namespaces (`metadata.namespace!=x`, which every type
 * supports). `excluded`: ScopedNamespaces.excluded.
 */
export function excludingSelector(excluded: readonly string[]): string | undefined {
  return excluded.length === 0 ? undefined : excluded.map((name) => `metadata.namespace!=${name}`).join(',');
}
