/**
 * Orders strings by UTF-16 code units, as `sort()` without a comparator does: the same on every
 * machine (`localeCompare` depends on the locale), so files, plans and manifests come out in one
 * order everywhere.
 */
export function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** compareStrings on the first element of pairs, e.g. the entries of a Map. */
export function compareKeys(a: readonly [string, ...unknown[]], b: readonly [string, ...unknown[]]): number {
  return compareStrings(a[0], b[0]);
}
