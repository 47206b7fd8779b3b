/**
 * A strict parser of the Prometheus text exposition format, version 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), for tests
 * that read what kollect publishes (`--metrics-file`, the Pushgateway body).
 *
 * Why not an npm parser: prom-client has none, and `parse-prometheus-text-format` (the one in
 * wide use) is lenient where a test needs to fail: it merges the series of a labelled histogram
 * into one (the sink label is lost), keeps values as unparsed strings (`abc` passes) and
 * silently merges a repeated series. This one rejects, naming the line:
 *  - a sample line that does not match `name{label="value",...} value [timestamp]`, bad escapes
 *    (only `\\`, `\"` and `\n` in label values, `\\` and `\n` in HELP), invalid metric or label
 *    names, reserved `__` label names, a label repeated in one sample, a value that is not a
 *    float (Go ParseFloat syntax, `NaN`, `+Inf`, `-Inf`), a timestamp that is not an integer;
 *  - a second HELP or TYPE for a name, HELP or TYPE after the family's samples, an unknown type;
 *  - a family whose samples are not contiguous, the same series twice;
 *  - a histogram without `le` on a bucket, buckets not ascending or not cumulative, no `+Inf`
 *    bucket, `_count` different from the `+Inf` bucket; a summary quantile without `quantile`;
 *  - a negative counter; text that does not end with a newline.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';

export interface Sample {
  /** The sample's own name (`x_bucket`, `x_sum`, `x_count` for a histogram `x`). */
  name: string;
  labels: Record<string, string>;
  value: number;
  timestampMs?: number;
}

export interface MetricFamily {
  name: string;
  type: MetricType;
  /** Unescaped HELP text, when a HELP line was given. */
  help?: string;
  samples: Sample[];
}

export class PromTextError extends Error {
  constructor(
    readonly line: number,
    message: string,
  ) {
    super(`line ${line}: ${message}`);
  }
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const FLOAT = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const TYPES: ReadonlySet<string> = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseFloatStrict(text: string): number | undefined {
  const lower = text.toLowerCase();
  if (lower === 'nan') return Number.NaN;
  if (lower === '+inf' || lower === 'inf') return Number.POSITIVE_INFINITY;
  if (lower === '-inf') return Number.NEGATIVE_INFINITY;
  if (!FLOAT.test(text)) return undefined;
  return Number(text);
}

function unescapeHelp(text: string, line: number): string {
  return text.replace(/\\(.?)/g, (_, c: string) => {
    if (c === '\\') return '\\';
    if (c === 'n') return '\n';
    throw new PromTextError(line, `invalid escape "\\${c}" in HELP`);
  });
}

/** Parses `{a="x",b="y"}` starting at `text[start] === '{'`; returns the labels and the index after `}`. */
function parseLabels(text: string, start: number, line: number): { labels: Record<string, string>; end: number } {
  const labels: Record<string, string> = {};
  let i = start + 1;
  const skipBlanks = (): void => {
    while (text[i] === ' ' || text[i] === '\t') i++;
  };
  for (;;) {
    skipBlanks();
    if (text[i] === '}') return { labels, end: i + 1 };
    const nameStart = i;
    while (i < text.length && /[a-zA-Z0-9_]/.test(text[i]!)) i++;
    const name = text.slice(nameStart, i);
    if (!LABEL_NAME.test(name)) throw new PromTextError(line, `invalid label name "${name}"`);
    if (name.startsWith('__')) throw new PromTextError(line, `reserved label name "${name}"`);
    if (Object.hasOwn(labels, name)) throw new PromTextError(line, `label "${name}" repeated`);
    skipBlanks();
    if (text[i] !== '=') throw new PromTextError(line, `expected "=" after label ${name}`);
    i++;
    skipBlanks();
    if (text[i] !== '"') throw new PromTextError(line, `expected a quoted value for label ${name}`);
    i++;
    let value = '';
    for (;;) {
      const c = text[i];
      if (c === undefined) throw new PromTextError(line, `unterminated value of label ${name}`);
      if (c === '"') break;
      if (c === '\\') {
        const next = text[i + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new PromTextError(line, `invalid escape "\\${next ?? ''}" in label ${name}`);
        i += 2;
        continue;
      }
      value += c;
      i++;
    }
    i++;
    labels[name] = value;
    skipBlanks();
    if (text[i] === ',') {
      i++;
      continue;
    }
    if (text[i] === '}') return { labels, end: i + 1 };
    throw new PromTextError(line, `expected "," or "}" after label ${name}`);
  }
}

function parseSample(text: string, line: number): Sample {
  let i = 0;
  while (i < text.length && /[a-zA-Z0-9_:]/.test(text[i]!)) i++;
  const name = text.slice(0, i);
  if (!METRIC_NAME.test(name)) throw new PromTextError(line, `invalid metric name in "${text}"`);
  let labels: Record<string, string> = {};
  while (text[i] === ' ' || text[i] === '\t') i++;
  if (text[i] === '{') ({ labels, end: i } = parseLabels(text, i, line));
  const rest = text
    .slice(i)
    .trim()
    .split(/[ \t]+/);
  if (rest.length < 1 || rest.length > 2 || rest[0] === '') throw new PromTextError(line, `expected "value [timestamp]" after ${name}, got "${text.slice(i)}"`);
  const value = parseFloatStrict(rest[0]!);
  if (value === undefined) throw new PromTextError(line, `value "${rest[0]}" of ${name} is not a float`);
  const sample: Sample = { name, labels, value };
  if (rest[1] !== undefined) {
    if (!/^-?\d+$/.test(rest[1])) throw new PromTextError(line, `timestamp "${rest[1]}" of ${name} is not an integer`);
    sample.timestampMs = Number(rest[1]);
  }
  return sample;
}

/** The family a sample name belongs to, given the declared types. */
function familyOf(sampleName: string, types: ReadonlyMap<string, MetricType>): string {
  if (types.has(sampleName)) return sampleName;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    if (!sampleName.endsWith(suffix)) continue;
    const base = sampleName.slice(0, -suffix.length);
    const type = types.get(base);
    if (type === 'histogram' || (type === 'summary' && suffix !== '_bucket')) return base;
  }
  return sampleName;
}

const seriesKey = (sample: Sample): string =>
  `${sample.name}{${Object.entries(sample.labels)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
    .join(',')}}`;

/** The labels of a sample without one label (`le`, `quantile`), as a key. */
function groupKey(labels: Record<string, string>, without: string): string {
  return JSON.stringify(
    Object.entries(labels)
      .filter(([k]) => k !== without)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
  );
}

function checkHistogram(family: MetricFamily, lineOf: ReadonlyMap<Sample, number>): void {
  const groups = new Map<string, { buckets: Array<{ le: number; value: number; line: number }>; count?: number; sum?: number }>();
  const group = (labels: Record<string, string>, without: string) => {
    const key = groupKey(labels, without);
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { buckets: [] }));
    return g;
  };
  for (const s of family.samples) {
    const line = lineOf.get(s) ?? 0;
    if (s.name === `${family.name}_bucket`) {
      const le = s.labels.le;
      if (le === undefined) throw new PromTextError(line, `${s.name} without an "le" label`);
      const bound = parseFloatStrict(le);
      if (bound === undefined || Number.isNaN(bound)) throw new PromTextError(line, `${s.name} has le="${le}", not a number`);
      group(s.labels, 'le').buckets.push({ le: bound, value: s.value, line });
    } else if (s.name === `${family.name}_count`) {
      group(s.labels, 'le').count = s.value;
    } else if (s.name === `${family.name}_sum`) {
      group(s.labels, 'le').sum = s.value;
    } else {
      throw new PromTextError(line, `sample ${s.name} in histogram ${family.name}`);
    }
  }
  for (const [key, g] of groups) {
    for (let k = 1; k < g.buckets.length; k++) {
      const [prev, cur] = [g.buckets[k - 1]!, g.buckets[k]!];
      if (!(cur.le > prev.le)) throw new PromTextError(cur.line, `histogram ${family.name}${key}: buckets not in ascending le order`);
      if (cur.value < prev.value) throw new PromTextError(cur.line, `histogram ${family.name}${key}: buckets not cumulative`);
    }
    const inf = g.buckets.at(-1);
    if (!inf || inf.le !== Number.POSITIVE_INFINITY) throw new PromTextError(0, `histogram ${family.name}${key} has no +Inf bucket`);
    if (g.count === undefined || g.sum === undefined) throw new PromTextError(inf.line, `histogram ${family.name}${key} lacks _count or _sum`);
    if (g.count !== inf.value) throw new PromTextError(inf.line, `histogram ${family.name}${key}: _count ${g.count} differs from the +Inf bucket ${inf.value}`);
  }
}

/**
 * Parses an exposition text into its metric families, by name, in order of appearance.
 * Throws PromTextError naming the first line that breaks the format.
 */
export function parsePromText(text: string): Map<string, MetricFamily> {
  if (text.length > 0 && !text.endsWith('\n')) throw new PromTextError(text.split('\n').length, 'the text does not end with a newline');
  const families = new Map<string, MetricFamily>();
  const types = new Map<string, MetricType>();
  const closed = new Set<string>();
  const series = new Set<string>();
  const lineOf = new Map<Sample, number>();
  let current: string | undefined;
  const familyFor = (name: string, line: number): MetricFamily => {
    if (current !== name) {
      if (closed.has(name)) throw new PromTextError(line, `metric family ${name} appears again after other families`);
      if (current !== undefined) closed.add(current);
      current = name;
    }
    let family = families.get(name);
    if (!family) families.set(name, (family = { name, type: types.get(name) ?? 'untyped', samples: [] }));
    return family;
  };
  const lines = text.split('\n');
  lines.pop();
  lines.forEach((raw, index) => {
    const line = index + 1;
    if (raw.trim() === '') return;
    if (raw.startsWith('#')) {
      const meta = /^#[ \t]+(HELP|TYPE)[ \t]+(\S+)(?:[ \t](.*))?$/.exec(raw);
      if (!meta) return; // a plain comment
      const [, kind, name = '', rest = ''] = meta;
      if (!METRIC_NAME.test(name)) throw new PromTextError(line, `invalid metric name "${name}" in ${kind}`);
      const family = familyFor(name, line);
      if (family.samples.length > 0) throw new PromTextError(line, `${kind} for ${name} after its samples`);
      if (kind === 'HELP') {
        if (family.help !== undefined) throw new PromTextError(line, `second HELP for ${name}`);
        family.help = unescapeHelp(rest, line);
      } else {
        const type = rest.trim();
        if (!TYPES.has(type)) throw new PromTextError(line, `unknown type "${type}" for ${name}`);
        if (types.has(name)) throw new PromTextError(line, `second TYPE for ${name}`);
        types.set(name, type as MetricType);
        family.type = type as MetricType;
      }
      return;
    }
    const sample = parseSample(raw.trim(), line);
    const family = familyFor(familyOf(sample.name, types), line);
    const key = seriesKey(sample);
    if (series.has(key)) throw new PromTextError(line, `series ${key} given twice`);
    series.add(key);
    if (family.type === 'counter' && (sample.value < 0 || Number.isNaN(sample.value)))
      throw new PromTextError(line, `counter ${sample.name} has value ${sample.value}`);
    if (family.type === 'summary' && sample.name === family.name && sample.labels.quantile === undefined) {
      throw new PromTextError(line, `summary sample ${sample.name} without a "quantile" label`);
    }
    family.samples.push(sample);
    lineOf.set(sample, line);
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family, lineOf);
  return families;
}

/** The samples of `name` (a sample name) whose labels include every pair of `labels`. */
export function samplesOf(families: ReadonlyMap<string, MetricFamily>, name: string, labels: Record<string, string> = {}): Sample[] {
  const out: Sample[] = [];
  for (const family of families.values()) {
    for (const s of family.samples) {
      if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) out.push(s);
    }
  }
  return out;
}
