/**
 * Which namespaces and names kollect accepts from an API server. A namespace ends up in paths
 * (the file and Git sinks' `pathTemplate`) and a name in every row, so a hostile or broken server
 * (or an aggregated API) must not be able to serve `../../x` and have it written somewhere.
 */

/** A DNS-1123 label: what kube-apiserver requires of a namespace's name (ValidateNamespaceName). */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

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
 * Why an object's namespace or name (as listed: not always strings, from a hostile server) is not
 * one a real API server serves, or undefined when both are valid. Cluster-scoped objects have
 * namespace ''.
 */
export function invalidObjectName(namespace: unknown, name: unknown): string | undefined {
  if (typeof namespace !== 'string' || (namespace !== '' && !isValidNamespace(namespace))) return 'namespace is not a DNS-1123 label';
  if (typeof name !== 'string' || !NAME.test(name)) return name === '' ? 'name is empty' : 'name is ".", "..", or holds "/", "%" or a control character';
  return undefined;
}
