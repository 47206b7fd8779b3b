/**
 * Which objects kollect accepts from an API server, by the fields every row is keyed or typed by.
 * A namespace ends up in paths (the file and Git sinks' `pathTemplate`) and a name in every row,
 * so a hostile or broken server (or an aggregated API) must not be able to serve `../../x` and
 * have it written somewhere; and a creationTimestamp that is no time would fail the PostgreSQL
 * sink's COPY of the whole cluster (its column is a timestamptz).
 */

/** A DNS-1123 label: what kube-apiserver requires of a namespace's name (ValidateNamespaceName). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/**
 * An object's name. Not the DNS-1123 subdomain most built-in types require: RBAC roles allow `:`
 * and custom resources any path segment, so a stricter rule would refuse real objects. This is
 * the rule kube-apiserver enforces for every type (path.IsValidPathSegmentName: not `.` or `..`,
 * no `/` or `%`), plus no control characters, which no type allows and which would reach logs.
 */
// eslint-disable-next-line no-control-regex -- the control characters are what is refused
const NAME = /^(?!\.\.?$)[^/%\u0000-\u001f\u007f]+$/;

/** True when `namespace` is a namespace's name the API server could have accepted. */
export function isValidNamespace(namespace: string): boolean {
  return DNS_LABEL.test(namespace);
}

/**
 * RFC 3339 as Go's time.Time marshals it (metav1.Time): seconds, optional fraction, Z or an
 * offset; months, days, hours, minutes and seconds in range. One regular expression without
 * captures, since every object of a list goes through it.
 */
const RFC3339 = /^\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d(?:\.\d{1,9})?(?:Z|[+-](?:0\d|1[0-5]):[0-5]\d)$/;

/** True when `text` is an RFC 3339 time that names a real day (PostgreSQL refuses `2026-02-30` and year 0). */
function isValidTimestamp(text: string): boolean {
  if (!RFC3339.test(text) || text.startsWith('0000')) return false;
  const day = Number(text.slice(8, 10));
  if (day <= 28) return true;
  // Day 0 of the next month is the last of this one (Date.UTC takes months from 0).
  return day <= new Date(Date.UTC(Number(text.slice(0, 4)), Number(text.slice(5, 7)), 0)).getUTCDate();
}

/**
 * Why an object (as listed: its fields are not always strings, from a hostile server) is not one a
 * real API server serves, or undefined when it is valid. Cluster-scoped objects have namespace ''.
 */
export function invalidObject(metadata: { namespace?: unknown; name?: unknown; creationTimestamp?: unknown }): string | undefined {
  const { namespace = '', name = '', creationTimestamp } = metadata;
  if (typeof namespace !== 'string' || (namespace !== '' && !isValidNamespace(namespace))) return 'namespace is not a DNS-1123 label';
  if (typeof name !== 'string' || !NAME.test(name)) return name === '' ? 'name is empty' : 'name is ".", "..", or holds "/", "%" or a control character';
  if (creationTimestamp !== undefined && creationTimestamp !== null && (typeof creationTimestamp !== 'string' || !isValidTimestamp(creationTimestamp))) {
    return 'creationTimestamp is not an RFC 3339 time';
  }
  return undefined;
}
