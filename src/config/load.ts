import { parseDocument } from 'yaml';
import type * as z from 'zod/mini';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { readTextFile } from '../fs/read-text-file.js';
import { isValidAttributePath } from '../rows/attribute-path.js';
import { profileNameOf, profileNames } from '../rows/profiles/registry.js';
import { isSecretType, secretDataReadBy } from '../rows/profiles/secret.js';
import { documentValue } from './document-value.js';
import { isNamespaceScoped } from '../kube/namespace-scope.js';
import { andSelectors, labelSelectorProblem } from '../kube/selectors.js';
import { configSchema, DEFAULT_RESOURCES, namespaceScope, resourceConfig, type KollectConfig, type ResourceConfig } from './schema.js';

/** Settings that flags may override; undefined means "keep the file's value". */
export interface ConfigOverrides {
  cluster?: string;
  kubeconfig?: string;
  context?: string;
  pageSize?: number;
  concurrency?: number;
  workers?: number | 'auto';
  storeDir?: string;
  /** Keep only these sinks, by name. */
  sinks?: string[];
  /** List only these namespaces (globs), excluding none: `-n`, or `-A` as `['*']`. */
  namespaces?: string[];
  /** A label selector for every resource, ANDed with each one's own (`-l`). */
  labelSelector?: string;
}

/** `sinks[1].pathTemplate`, as a user reads it. */
export function formatIssuePath(path: ReadonlyArray<PropertyKey>): string {
  let out = '';
  for (const part of path) {
    if (typeof part === 'number') out += `[${part}]`;
    else out += out === '' ? String(part) : `.${String(part)}`;
  }
  return out;
}

function toIssues(error: z.core.$ZodError): ConfigIssue[] {
  return error.issues.map((issue) => ({ path: formatIssuePath(issue.path), message: issue.message }));
}

/** A problem with the file as a whole (it cannot be read, or parsed), for readTextFile and documentValue. */
function fileProblem(file: string | undefined): (reason: string) => ConfigError {
  return (reason) => new ConfigError(file, [{ path: '', message: reason }]);
}

/** Parses YAML (a superset of JSON) and reports syntax errors with line and column, and alias bombs. */
export function parseConfigText(text: string, file?: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: '', message: e.message.split('\n')[0] ?? e.message })),
    );
  }
  return documentValue(doc, fileProblem(file)) ?? {};
}

/**
 * Checks across fields (unique sink names, profiles that exist, no resource twice), on the
 * document as written, so that they are reported together with the schema's problems: every
 * sink's name counts, and each resource that parses on its own. Resources left out take the
 * defaults, which pass.
 */
function crossFieldIssues(doc: Record<string, unknown>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seenSinks = new Map<string, number>();
  (Array.isArray(doc.sinks) ? doc.sinks : []).forEach((sink: unknown, i) => {
    const name = sink && typeof sink === 'object' ? (sink as { name?: unknown }).name : undefined;
    if (typeof name !== 'string') return;
    const first = seenSinks.get(name);
    if (first !== undefined) issues.push({ path: `sinks[${i}].name`, message: `"${name}" is already the name of sinks[${first}]` });
    else seenSinks.set(name, i);
  });
  const defined = doc.profiles && typeof doc.profiles === 'object' && !Array.isArray(doc.profiles) ? Object.keys(doc.profiles) : [];
  const known = new Set([...profileNames(), ...defined]);
  const seenTypes = new Map<string, number>();
  const secretResources: Array<{ where: string; resource: ResourceConfig }> =
    doc.resources === undefined ? DEFAULT_RESOURCES.filter(isSecretType).map((resource) => ({ where: 'the default resource secrets', resource })) : [];
  (Array.isArray(doc.resources) ? doc.resources : []).forEach((item: unknown, i) => {
    const parsed = resourceConfig.safeParse(item);
    if (!parsed.success) return;
    const resource = parsed.data;
    if (isSecretType(resource)) secretResources.push({ where: `resources[${i}]`, resource });
    if (resource.profile !== undefined && !known.has(resource.profile)) {
      issues.push({
        path: `resources[${i}].profile`,
        message: `unknown profile "${resource.profile}"; known: ${[...known].sort().join(', ')}`,
      });
    }
    const key = `${resource.group}/${resource.resource}`;
    const first = seenTypes.get(key);
    if (first !== undefined) issues.push({ path: `resources[${i}]`, message: `duplicates resources[${first}]` });
    else seenTypes.set(key, i);
  });
  for (const { where, resource } of secretResources) issues.push(...secretDataIssues(doc.profiles, where, profileNameOf(resource)));
  const list = doc.list && typeof doc.list === 'object' ? (doc.list as { scope?: unknown }) : {};
  const namespaces = namespaceScope.safeParse(doc.namespaces ?? {});
  if (list.scope === 'cluster' && namespaces.success && isNamespaceScoped(namespaces.data)) {
    issues.push({
      path: 'list.scope',
      message: 'cluster lists every namespace, and namespaces limits them: use auto (the API server then lists only those) or namespaces',
    });
  }
  return issues;
}

/**
 * `-l`: checked as a flag (a malformed one names --selector), then ANDed into every resource's
 * own selector, so the API server applies both. Resources left out take the defaults.
 */
function selectorFlagIssues(doc: Record<string, unknown>, selector: string | undefined): ConfigIssue[] {
  if (selector === undefined) return [];
  const problem = labelSelectorProblem(selector);
  if (problem !== undefined) return [{ path: '--selector', message: problem }];
  const resources: unknown[] = Array.isArray(doc.resources) ? doc.resources : doc.resources === undefined ? DEFAULT_RESOURCES : [];
  doc.resources = resources.map((item) =>
    item && typeof item === 'object' && !Array.isArray(item)
      ? { ...item, labelSelector: andSelectors((item as { labelSelector?: string }).labelSelector, selector) }
      : item,
  );
  return [];
}

/**
 * A custom profile used for Secrets must not read what holds their data (src/rows/profiles/secret.ts):
 * rows go to every sink. Projection drops those fields anyway; refusing the profile says so
 * before a run, instead of exporting attributes that stay empty.
 */
function secretDataIssues(profiles: unknown, where: string, name: string): ConfigIssue[] {
  const profile = profiles && typeof profiles === 'object' ? (profiles as Record<string, unknown>)[name] : undefined;
  const attributes = profile && typeof profile === 'object' ? (profile as { attributes?: unknown }).attributes : undefined;
  if (!attributes || typeof attributes !== 'object') return [];
  return Object.entries(attributes).flatMap(([attribute, path]) => {
    const field = typeof path === 'string' && isValidAttributePath(path) ? secretDataReadBy(path) : undefined;
    if (field === undefined) return [];
    const why = field.startsWith('metadata.') ? "kubectl apply copies a Secret's whole data into that annotation" : "that is a Secret's data";
    return [
      {
        path: `profiles.${name}.attributes.${attribute}`,
        message: `reads ${field} of Secrets (${where} uses profile "${name}"): ${why}, and a Secret's data never goes into rows; remove the attribute, or give secrets a profile without it`,
      },
    ];
  });
}

/** `section` of the document with flag values laid over it (an absent section becomes one). */
function overlaid(section: unknown, values: Record<string, unknown>): unknown {
  const set = Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
  if (Object.keys(set).length === 0) return section;
  // A section that is not a mapping is the schema's to report; the flags cannot mend it.
  return section === undefined || (typeof section === 'object' && section !== null && !Array.isArray(section))
    ? { ...(section as object | undefined), ...set }
    : section;
}

/** Validates a parsed document, applying flag overrides first so that they are validated too. */
export function validateConfig(raw: unknown, overrides: ConfigOverrides = {}, file?: string): KollectConfig {
  const doc = (raw && typeof raw === 'object' && !Array.isArray(raw) ? { ...(raw as Record<string, unknown>) } : raw) as Record<string, unknown>;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new ConfigError(file, [{ path: '', message: 'must be a mapping (YAML) or an object (JSON)' }]);
  }
  // `kube:` with only comments under it is null in YAML: the user means "defaults".
  for (const [key, value] of Object.entries(doc)) if (value === null) delete doc[key];
  if (overrides.cluster !== undefined) doc.cluster = overrides.cluster;
  doc.kube = overlaid(doc.kube, { kubeconfig: overrides.kubeconfig, context: overrides.context });
  doc.list = overlaid(doc.list, { pageSize: overrides.pageSize, concurrency: overrides.concurrency, workers: overrides.workers });
  doc.store = overlaid(doc.store, { dir: overrides.storeDir });
  for (const key of ['kube', 'list', 'store']) if (doc[key] === undefined) delete doc[key];
  if (overrides.namespaces !== undefined) doc.namespaces = { include: overrides.namespaces, exclude: [] };
  const flagIssues = selectorFlagIssues(doc, overrides.labelSelector);
  const result = configSchema.safeParse(doc);
  const issues = [...flagIssues, ...crossFieldIssues(doc)];
  if (!result.success) throw new ConfigError(file, [...toIssues(result.error), ...issues]);
  const config = result.data;
  if (overrides.sinks !== undefined) {
    const names = new Set(config.sinks.map((s) => s.name));
    for (const name of overrides.sinks) {
      if (!names.has(name)) issues.push({ path: '--sink', message: `no sink named "${name}"; configured: ${[...names].join(', ') || 'none'}` });
    }
    config.sinks = config.sinks.filter((s) => overrides.sinks?.includes(s.name));
  }
  if (issues.length > 0) throw new ConfigError(file, issues);
  return config;
}

/** Reads, parses and validates a configuration file. Throws ConfigError (exit 2) on any problem. */
export async function loadConfig(file: string, overrides: ConfigOverrides = {}): Promise<KollectConfig> {
  const text = await readTextFile(file, fileProblem(file));
  return validateConfig(parseConfigText(text, file), overrides, file);
}
