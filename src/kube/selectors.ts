/**
 * Label and field selectors as the API server parses them (apimachinery's `labels.Parse` and
 * `fields.ParseSelector`): checked when the configuration is read, so that a malformed one names
 * its path and exits 2 instead of failing each list with 400 BadRequest. The server applies them
 * to lists: kollect passes the text on unchanged. Only `shard-report --manifests`, which has no
 * server, evaluates them itself (labelSelectorMatches, fieldSelectorMatches).
 */

/** A label name, or the part after `prefix/` of a key: 63 characters at most, alphanumeric at both ends. */
const NAME = /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
/** A key's prefix: a DNS-1123 subdomain. */
const PREFIX = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function keyProblem(key: string): string | undefined {
  const slash = key.indexOf('/');
  const name = slash < 0 ? key : key.slice(slash + 1);
  if (slash >= 0) {
    const prefix = key.slice(0, slash);
    if (prefix.length > 253 || !PREFIX.test(prefix)) return `label key "${key}" has an invalid prefix (a DNS subdomain such as example.com)`;
  }
  if (name.length > 63 || !NAME.test(name)) return `"${key}" is not a label key (letters, digits, "-", "_", ".", at most 63, alphanumeric at both ends)`;
  return undefined;
}

function valueProblem(value: string): string | undefined {
  if (value === '' || (value.length <= 63 && NAME.test(value))) return undefined;
  return `"${value}" is not a label value (letters, digits, "-", "_", ".", at most 63, alphanumeric at both ends)`;
}

/** Splits on commas outside parentheses: `a in (x,y),b` is two requirements. */
function requirements(selector: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i];
    if (c === '(') depth++;
    else if (c === ')') depth--;
    else if (c === ',' && depth === 0) {
      parts.push(selector.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(selector.slice(start));
  return parts.map((part) => part.trim());
}

const SET_REQUIREMENT = /^(\S+?)\s+(in|notin)\s*\((.*)\)$/;
const OPERATOR_REQUIREMENT = /^([^=!<>\s]+)\s*(==|=|!=|<|>)\s*(.*)$/;
const EXISTS_REQUIREMENT = /^(!?)\s*(\S+)$/;

/** Why a label selector does not parse (`app!=canary,tier in (web,api),!legacy`), or undefined when it does. */
export function labelSelectorProblem(selector: string): string | undefined {
  if (selector.trim() === '') return 'must not be empty; leave the setting out to select everything';
  for (const requirement of requirements(selector)) {
    if (requirement === '') return 'has an empty requirement (two commas, or one at an end)';
    const set = SET_REQUIREMENT.exec(requirement);
    if (set) {
      const values = set[3]!.split(',').map((v) => v.trim());
      const problem = keyProblem(set[1]!) ?? values.map(valueProblem).find((p) => p !== undefined);
      if (problem) return problem;
      continue;
    }
    const operator = OPERATOR_REQUIREMENT.exec(requirement);
    if (operator) {
      const [, key, op, value] = operator as unknown as [string, string, string, string];
      const problem =
        keyProblem(key) ?? ((op === '<' || op === '>') && !/^-?\d+$/.test(value) ? `"${value}" after ${op} must be a whole number` : valueProblem(value));
      if (problem) return problem;
      continue;
    }
    const exists = EXISTS_REQUIREMENT.exec(requirement);
    if (exists) {
      const problem = keyProblem(exists[2]!);
      if (problem) return problem;
      continue;
    }
    return `cannot read "${requirement}": use key, !key, key=value, key!=value, key in (a,b) or key notin (a,b)`;
  }
  return undefined;
}

/**
 * Whether an object's labels satisfy a label selector that labelSelectorProblem accepts, as the
 * API server decides (apimachinery's `labels.Selector.Matches`): `!=` and `notin` also take an
 * object without the key; `<` and `>` only a whole-number value.
 */
export function labelSelectorMatches(selector: string, labels: Readonly<Record<string, string>>): boolean {
  const valueOf = (key: string): string | undefined => (Object.hasOwn(labels, key) ? labels[key] : undefined);
  return requirements(selector).every((requirement) => {
    const set = SET_REQUIREMENT.exec(requirement);
    if (set) {
      const value = valueOf(set[1]!);
      const inSet = value !== undefined && set[3]!.split(',').some((v) => v.trim() === value);
      return set[2] === 'in' ? inSet : !inSet;
    }
    const operator = OPERATOR_REQUIREMENT.exec(requirement);
    if (operator) {
      const [, key, op, expected] = operator as unknown as [string, string, string, string];
      const value = valueOf(key);
      if (op === '!=') return value !== expected;
      if (op === '=' || op === '==') return value === expected;
      if (value === undefined || !/^-?\d+$/.test(value)) return false;
      return op === '<' ? Number(value) < Number(expected) : Number(value) > Number(expected);
    }
    const [, negated, key] = EXISTS_REQUIREMENT.exec(requirement) as unknown as [string, string, string];
    return (valueOf(key) !== undefined) !== (negated === '!');
  });
}

/** Field selector terms split on unescaped commas (a value may hold `\,`). */
function fieldTerms(selector: string): string[] {
  const terms: string[] = [];
  let current = '';
  for (let i = 0; i < selector.length; i++) {
    const c = selector[i]!;
    if (c === '\\' && i + 1 < selector.length) {
      current += c + selector[++i];
    } else if (c === ',') {
      terms.push(current);
      current = '';
    } else current += c;
  }
  terms.push(current);
  return terms;
}

const FIELD_TERM = /^([^=!\s]+)\s*(==|=|!=)(.*)$/;

/** Why a field selector does not parse (`status.phase!=Succeeded,metadata.name=x`), or undefined when it does. */
export function fieldSelectorProblem(selector: string): string | undefined {
  if (selector.trim() === '') return 'must not be empty; leave the setting out to select everything';
  for (const term of fieldTerms(selector)) {
    const match = FIELD_TERM.exec(term.trim());
    if (!match) return `cannot read "${term}": use field=value, field==value or field!=value (such as status.phase!=Succeeded)`;
  }
  return undefined;
}

/**
 * Whether an object's fields satisfy a field selector that fieldSelectorProblem accepts. Only the
 * fields given are judged (`metadata.name`, `metadata.namespace` of a manifest); a term on any
 * other field is taken as met, since only the API server knows its value.
 */
export function fieldSelectorMatches(selector: string, fields: Readonly<Record<string, string>>): boolean {
  return fieldTerms(selector).every((term) => {
    const [, field, op, raw] = FIELD_TERM.exec(term.trim()) as unknown as [string, string, string, string];
    const value = Object.hasOwn(fields, field) ? fields[field] : undefined;
    if (value === undefined) return true;
    return (value === raw.replace(/\\(.)/g, '$1')) !== (op === '!=');
  });
}

/** Both selectors at once (a resource's and a flag's): the API server ANDs comma-separated requirements. */
export function andSelectors(...selectors: Array<string | undefined>): string | undefined {
  const set = selectors.filter((s): s is string => s !== undefined && s !== '');
  return set.length === 0 ? undefined : set.join(',');
}
