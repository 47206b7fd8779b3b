/**
 * Content negotiation as kube-apiserver does it (apiserver/pkg/endpoints/handlers/negotiation,
 * on goautoneg's Accept parser): media ranges sorted by q and then by specificity, the first one
 * the server can serve wins. Parameters `as`/`g`/`v` ask for a conversion: the simulator offers
 * PartialObjectMetadata(List) in meta.k8s.io/v1 on object endpoints and nothing on discovery
 * endpoints. It speaks JSON only, so protobuf and YAML ranges are passed over (a real server
 * would serve them), as are the deprecated meta.k8s.io/v1beta1 forms.
 */

interface MediaRange {
  type: string;
  subType: string;
  params: Record<string, string>;
  q: number;
}

/** What to send: plain JSON, or the metadata-only (meta.k8s.io/v1) form of an object or a list. */
export type Target = 'json' | 'PartialObjectMetadata' | 'PartialObjectMetadataList';

/** The one media type the simulator serves. */
export const SERVED_MEDIA_TYPES = ['application/json'];

function parseAccept(header: string): MediaRange[] {
  const ranges: MediaRange[] = [];
  for (const part of header.split(',')) {
    const [mediaRange = '', ...params] = part.split(';');
    const [type = '', subType] = mediaRange.trim().toLowerCase().split('/');
    // goautoneg accepts a bare `*` as `*/*` and skips anything else without a slash.
    if (subType === undefined && type !== '*') continue;
    const range: MediaRange = { type, subType: subType?.trim() ?? '*', params: {}, q: 1 };
    for (const param of params) {
      const eq = param.indexOf('=');
      if (eq < 0) continue;
      const key = param.slice(0, eq).trim();
      const value = param.slice(eq + 1).trim();
      if (key === 'q') range.q = Number.parseFloat(value) || 0;
      else range.params[key] = value;
    }
    ranges.push(range);
  }
  // Higher q first, then concrete types before wildcards; stable otherwise. Like the real
  // server, q=0 is not treated as "not acceptable".
  const rank = (r: MediaRange): number => (r.type === '*' ? 2 : r.subType === '*' ? 1 : 0);
  return ranges.sort((a, b) => b.q - a.q || rank(a) - rank(b));
}

/**
 * The target for an Accept header, or undefined when no range can be served (406).
 * `conversions` is false for endpoints that serve no alternative forms (discovery, /version).
 */
export function negotiate(header: string | undefined, conversions: boolean): Target | undefined {
  if (!header) return 'json';
  for (const range of parseAccept(header)) {
    const json = (range.type === 'application' && (range.subType === 'json' || range.subType === '*')) || (range.type === '*' && range.subType === '*');
    if (!json || range.params.stream) continue;
    const { as, g, v } = range.params;
    if (as === undefined && g === undefined && v === undefined) return 'json';
    // A conversion the endpoint cannot make makes this range unacceptable; the next one may do.
    // Table is such a conversion here: the simulator has no table convertor.
    if (conversions && g === 'meta.k8s.io' && v === 'v1' && (as === 'PartialObjectMetadata' || as === 'PartialObjectMetadataList')) return as;
  }
  return undefined;
}
