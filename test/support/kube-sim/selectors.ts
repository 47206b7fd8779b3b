import type { ResourceType } from './resources.js';

/**
 * Server-side list filtering: `labelSelector` and `fieldSelector` as kube-apiserver parses and
 * applies them (k8s.io/apimachinery/pkg/labels and pkg/fields). A filter is evaluated on the
 * stored object, whatever form the list is written in (full or PartialObjectMetadataList).
 */

type LabelRequirement =
  { key: string; op: 'exists' | '!exists' } | { key: string; op: 'in' | 'notin'; values: string[] } | { key: string; op: 'gt' | 'lt'; value: number };

interface FieldTerm {
  field: string;
  equal: boolean;
  value: string;
}

/** What a list keeps; every requirement and every term must hold (comma is AND). */
export interface ListFilter {
  labels: LabelRequirement[];
  fields: FieldTerm[];
}

/** An object as served, parsed. */
export interface ServedObject {
  metadata?: { labels?: Record<string, string> };
  [key: string]: unknown;
}

// A qualified name with an optional DNS-subdomain prefix, and a label value (validation.IsQualifiedName, IsValidLabelValue).
const NAME = '[A-Za-z0-9](?:[-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?';
const KEY = `(?:[a-z0-9](?:[-a-z0-9.]{0,251}[a-z0-9])?/)?${NAME}`;
const VALUE = `(?:${NAME})?`;
const EXISTS = new RegExp(`^(!?)\\s*(${KEY})$`);
const EQUALITY = new RegExp(`^(${KEY})\\s*(==|=|!=)\\s*(${VALUE})$`);
const SET = new RegExp(`^(${KEY})\\s+(in|notin)\\s*\\(([^()]*)\\)$`);
const COMPARE = new RegExp(`^(${KEY})\\s*([<>])\\s*(-?\\d+)$`);
const LABEL_VALUE = new RegExp(`^${VALUE}$`);

/** Field labels every type supports (runtime.DefaultMetaV1FieldSelectorConversion). */
const META_FIELDS = ['metadata.name', 'metadata.namespace'];
/** More field labels per type key, as their registries convert them (pods: pkg/apis/core/v1/conversion.go). */
const TYPE_FIELDS: Readonly<Record<string, readonly string[]>> = {
  pods: ['spec.nodeName', 'spec.restartPolicy', 'spec.schedulerName', 'spec.serviceAccountName', 'status.phase', 'status.podIP'],
  secrets: ['type'],
  namespaces: ['status.phase'],
};

/** Commas outside parentheses split a label selector into requirements (`in (a,b)` holds one). */
function splitRequirements(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '(') depth++;
    else if (text[i] === ')') depth--;
    else if (text[i] === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((p) => p.trim());
}

function parseRequirement(text: string): LabelRequirement | string {
  let m = EQUALITY.exec(text);
  if (m) return { key: m[1]!, op: m[2] === '!=' ? 'notin' : 'in', values: [m[3]!] };
  m = SET.exec(text);
  if (m) {
    const values = m[3]!.split(',').map((v) => v.trim());
    const bad = values.find((v) => !LABEL_VALUE.test(v));
    if (bad !== undefined)
      return `unable to parse requirement: values[0][${m[1]}]: Invalid value: ${JSON.stringify(bad)}: a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.'`;
    return { key: m[1]!, op: m[2] as 'in' | 'notin', values };
  }
  m = COMPARE.exec(text);
  if (m) return { key: m[1]!, op: m[2] === '>' ? 'gt' : 'lt', value: Number(m[3]) };
  m = EXISTS.exec(text);
  if (m) return { key: m[2]!, op: m[1] ? '!exists' : 'exists' };
  return `unable to parse requirement: found ${JSON.stringify(text)}, expected: key, !key, key=value, key!=value, key in (...) or key notin (...)`;
}

/** The label requirements of `text`, or the reason it does not parse. '' selects everything. */
export function parseLabelSelector(text: string): LabelRequirement[] | { invalid: string } {
  if (text.trim() === '') return [];
  const requirements: LabelRequirement[] = [];
  for (const part of splitRequirements(text)) {
    const requirement = parseRequirement(part);
    if (typeof requirement === 'string') return { invalid: requirement };
    requirements.push(requirement);
  }
  return requirements;
}

/** Splits on commas not escaped by a backslash, and unescapes (fields.ParseSelector). */
function splitTerms(text: string): string[] {
  const terms: string[] = [];
  let current = '';
  for (let i = 0; i < text.length; i++) {
    if (text[i] === '\\' && i + 1 < text.length) current += text[i] + text[++i]!;
    else if (text[i] === ',') {
      terms.push(current);
      current = '';
    } else current += text[i];
  }
  terms.push(current);
  return terms;
}

function unescape(text: string): string {
  return text.replace(/\\(.)/g, '$1');
}

/**
 * The field terms of `text` for `type`, or the reason the server refuses them: a term without an
 * operator does not parse; a field label the type does not index is "not supported".
 */
export function parseFieldSelector(text: string, type: ResourceType): FieldTerm[] | { invalid: string } {
  if (text === '') return [];
  const supported = [...META_FIELDS, ...(TYPE_FIELDS[type.key] ?? [])];
  const terms: FieldTerm[] = [];
  for (const term of splitTerms(text)) {
    const m = /^(.*?)(!=|==|=)(.*)$/s.exec(term);
    if (!m) return { invalid: `invalid selector: '${text}'; can't understand '${term}'` };
    const field = unescape(m[1]!);
    if (!supported.includes(field)) return { invalid: `field label not supported: ${field}` };
    terms.push({ field, equal: m[2] !== '!=', value: unescape(m[3]!) });
  }
  return terms;
}

/** The value of a dotted field path in the object; a missing field is '' (fields.Set.Get). */
function fieldValue(object: ServedObject, path: string): string {
  let value: unknown = object;
  for (const part of path.split('.')) value = value !== null && typeof value === 'object' ? (value as Record<string, unknown>)[part] : undefined;
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean' ? String(value) : '';
}

function labelMatches(requirement: LabelRequirement, labels: Record<string, string>): boolean {
  const value = labels[requirement.key];
  switch (requirement.op) {
    case 'exists':
      return value !== undefined;
    case '!exists':
      return value === undefined;
    case 'in':
      return value !== undefined && requirement.values.includes(value);
    case 'notin':
      // Like kubectl's `!=`: an object without the label matches.
      return value === undefined || !requirement.values.includes(value);
    case 'gt':
    case 'lt': {
      if (value === undefined || !/^-?\d+$/.test(value)) return false;
      return requirement.op === 'gt' ? Number(value) > requirement.value : Number(value) < requirement.value;
    }
  }
}

/** Whether the object passes every label requirement and field term. */
export function matches(filter: ListFilter, object: ServedObject): boolean {
  const labels = object.metadata?.labels ?? {};
  return filter.labels.every((r) => labelMatches(r, labels)) && filter.fields.every((t) => (fieldValue(object, t.field) === t.value) === t.equal);
}
