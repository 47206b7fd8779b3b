import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, type ConfigIssue } from '../errors.js';
import { profileNames } from '../rows/profiles/registry.js';
import { configSchema, resourceConfig, sinkConfig, type KollectConfig, type ResourceConfig, type SinkConfig } from './schema.js';

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

function toIssues(error: z.ZodError): ConfigIssue[] {
  return error.issues.map((issue) => ({ path: formatIssuePath(issue.path), message: issue.message }));
}

/** Parses YAML (a superset of JSON) and reports syntax errors with line and column. */
export function parseConfigText(text: string, file?: string): unknown {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      file,
      doc.errors.map((e) => ({ path: '', message: e.message.split('\n')[0] ?? e.message })),
    );
  }
  return doc.toJS() ?? {};
}

/** What the checks across fields look at: the sinks and resources that are valid on their own, by index. */
interface CrossFieldView {
  /** Every sink's name, even of a sink with other problems: names must be unique all the same. */
  sinkNames: ReadonlyArray<[number, string]>;
  sinks: ReadonlyArray<[number, SinkConfig]>;
  resources: ReadonlyArray<[number, ResourceConfig]>;
  /** Profiles the file defines (valid or not: a broken one is reported where it is, not as unknown). */
  profiles: readonly string[];
}

function viewOf(config: KollectConfig): CrossFieldView {
  return { sinkNames: config.sinks.map((sink, i) => [i, sink.name]), sinks: [...config.sinks.entries()], resources: [...config.resources.entries()], profiles: Object.keys(config.profiles) };
}

/**
 * The same view of a document the schema refused, so that its problems across fields are
 * reported with the others in one go: each sink and resource that parses on its own counts.
 */
function lenientViewOf(doc: Record<string, unknown>): CrossFieldView {
  const valid = <T>(items: unknown, schema: z.ZodType<T>): Array<[number, T]> =>
    (Array.isArray(items) ? items : []).flatMap((item, i): Array<[number, T]> => {
      const parsed = schema.safeParse(item);
      return parsed.success ? [[i, parsed.data]] : [];
    });
  const profiles = doc.profiles && typeof doc.profiles === 'object' && !Array.isArray(doc.profiles) ? Object.keys(doc.profiles) : [];
  const sinkNames = (Array.isArray(doc.sinks) ? doc.sinks : []).flatMap((sink: unknown, i): Array<[number, string]> => {
    const name = sink && typeof sink === 'object' ? (sink as { name?: unknown }).name : undefined;
    return typeof name === 'string' ? [[i, name]] : [];
  });
  return { sinkNames, sinks: valid(doc.sinks, sinkConfig), resources: valid(doc.resources, resourceConfig), profiles };
}

/** Checks that need more than one field: unique names, profiles that exist. */
function crossFieldIssues(view: CrossFieldView): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const seenSinks = new Map<string, number>();
  for (const [i, name] of view.sinkNames) {
    const first = seenSinks.get(name);
    if (first !== undefined) issues.push({ path: `sinks[${i}].name`, message: `"${name}" is already the name of sinks[${first}]` });
    else seenSinks.set(name, i);
  }
  for (const [i, sink] of view.sinks) {
    if (sink.type === 'postgres' && sink.table === sink.runsTable) {
      issues.push({ path: `sinks[${i}].runsTable`, message: `must differ from table ("${sink.table}"): the runs are recorded in a table of their own` });
    }
  }
  const known = new Set([...profileNames(), ...view.profiles]);
  const seenTypes = new Map<string, number>();
  for (const [i, resource] of view.resources) {
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
  }
  return issues;
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
  const result = configSchema.safeParse(doc);
  if (!result.success) throw new ConfigError(file, [...toIssues(result.error), ...crossFieldIssues(lenientViewOf(doc))]);
  const config = result.data;
  if (overrides.kubeconfig !== undefined) config.kube.kubeconfig = overrides.kubeconfig;
  if (overrides.context !== undefined) config.kube.context = overrides.context;
  if (overrides.pageSize !== undefined) config.list.pageSize = overrides.pageSize;
  if (overrides.concurrency !== undefined) config.list.concurrency = overrides.concurrency;
  if (overrides.workers !== undefined) config.list.workers = overrides.workers;
  if (overrides.storeDir !== undefined) config.store.dir = overrides.storeDir;
  const issues = crossFieldIssues(viewOf(config));
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
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message;
    throw new ConfigError(file, [{ path: '', message: reason }]);
  }
  return validateConfig(parseConfigText(text, file), overrides, file);
}
