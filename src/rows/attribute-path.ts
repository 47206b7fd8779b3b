/**
 * Compiled attribute paths: `spec.replicas`, `spec.containers[0].image`,
 * `spec.containers[*].image` (a list), `metadata.annotations["example.com/owner"]`.
 * Compiled once per profile so the hot path only walks objects.
 */
type Step = { kind: 'key'; key: string } | { kind: 'index'; index: number } | { kind: 'each' };

export type AttributeGetter = (object: unknown) => unknown;

const stepPattern = /\.?([A-Za-z_$][\w$-]*)|\[(\d+)\]|\[\*\]|\["([^"]+)"\]/y;

export function parseAttributePath(path: string): Step[] {
  const steps: Step[] = [];
  stepPattern.lastIndex = 0;
  while (stepPattern.lastIndex < path.length) {
    const start = stepPattern.lastIndex;
    const match = stepPattern.exec(path);
    if (!match) throw new Error(`cannot parse attribute path "${path}" at offset ${start}`);
    if (match[1] !== undefined) steps.push({ kind: 'key', key: match[1] });
    else if (match[2] !== undefined) steps.push({ kind: 'index', index: Number(match[2]) });
    else if (match[3] !== undefined) steps.push({ kind: 'key', key: match[3] });
    else steps.push({ kind: 'each' });
  }
  return steps;
}

function walk(value: unknown, steps: readonly Step[], from: number): unknown {
  let current = value;
  for (let i = from; i < steps.length; i++) {
    if (current === null || current === undefined) return undefined;
    const step = steps[i]!;
    if (step.kind === 'key') {
      current = typeof current === 'object' && !Array.isArray(current) ? (current as Record<string, unknown>)[step.key] : undefined;
    } else if (step.kind === 'index') {
      current = Array.isArray(current) ? current[step.index] : undefined;
    } else {
      if (!Array.isArray(current)) return undefined;
      // A loop, not map() and filter(): the page encoder inlines this walk, and each resource type's
      // shapes deoptimized the closures' version in it again, so V8 compiled it over and over
      // (docs/benchmarks.md, "Choices in the code").
      const values: unknown[] = [];
      for (const item of current) {
        const value = walk(item, steps, i + 1);
        if (value !== undefined) values.push(value);
      }
      return values;
    }
  }
  return current;
}

export function isValidAttributePath(path: string): boolean {
  stepPattern.lastIndex = 0;
  while (stepPattern.lastIndex < path.length) {
    if (!stepPattern.exec(path)) return false;
  }
  return path.length > 0;
}

export function compileAttributePath(path: string): AttributeGetter {
  const steps = parseAttributePath(path);
  return (object) => walk(object, steps, 0);
}
