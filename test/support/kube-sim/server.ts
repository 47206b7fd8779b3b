import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Writable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { permits, type KubeSimRbac } from './access.js';
import type { Cluster } from './cluster.js';
import { decodeContinue, encodeContinue, type ContinueToken } from './continue-token.js';
import type { Faults } from './faults.js';
import { negotiate, SERVED_MEDIA_TYPES, type Target } from './negotiation.js';
import { RESOURCE_TYPES, type ResourceType } from './resources.js';
import { groupVersionPath, route, type Route } from './routes.js';
import { parseFieldSelector, parseLabelSelector, matches, type ListFilter, type ServedObject } from './selectors.js';
import { EXPIRED_MESSAGE, forbidden, notFound, status, statusFor, type RequestSubject, type Status } from './status.js';

/**
 * The HTTP side: authentication, faults, content negotiation, and lists written in chunks as
 * they are generated, so that a page costs its own size in memory and the server keeps up with
 * a client listing a million objects.
 */

export interface KubeSimStats {
  /** Every request, including those answered with a fault or a 401. */
  requests: number;
  /** Response body bytes written (after compression). */
  bytes: number;
  /** Requests by URL path (without the query). */
  byPath: Record<string, number>;
  /** Authenticated list requests (pages), whatever their answer. */
  lists: number;
}

export interface ServerState {
  cluster: Cluster;
  faults: Faults;
  stats: KubeSimStats;
  token: string;
  continueTtlMs: number;
  compression: boolean;
  /** Objects served after the generated ones (KubeSimOptions.extraObjects). */
  extraObjects: Readonly<Record<string, ReadonlyArray<Record<string, unknown>>>>;
  /** The discovery documents; they name the server's address, so they are written once it listens. */
  documents: () => Map<string, string>;
  /** Groups whose aggregated API is down. */
  unavailableGroups: ReadonlySet<string>;
  /** What the client may read; everything when undefined. */
  rbac: KubeSimRbac | undefined;
}

/** Health endpoints answer without credentials, as a real server's do for anonymous probes. */
const HEALTH = new Set(['/healthz', '/livez', '/readyz']);
/** Lists are written in chunks of about this size. */
const CHUNK_BYTES = 128 * 1024;
const COMMA = 0x2c;
/** Like kube-apiserver (APIResponseCompression), only bodies of at least 128 KiB are gzipped. */
const GZIP_THRESHOLD = 128 * 1024;

interface ListQuery {
  /** 0: no limit. */
  limit: number;
  token?: ContinueToken;
  /** resourceVersion=0 is served from the watch cache, which ignores limit (Kubernetes < 1.31). */
  fromCache: boolean;
  page: number;
  /** labelSelector and fieldSelector, when either is given. */
  filter?: ListFilter;
}

interface Answer {
  code: number;
  chunks: Iterable<string | Buffer>;
  contentType?: string;
  headers?: Record<string, string>;
}

export function requestHandler(state: ServerState): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    serve(state, req, res).catch((error: unknown) => {
      if (res.headersSent) res.destroy();
      else void write(state, req, res, statusAnswer(status(500, 'InternalError', `Internal error occurred: ${(error as Error).message}`)), false);
    });
  };
}

async function serve(state: ServerState, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://kube-sim');
  const path = url.pathname;
  state.stats.requests++;
  state.stats.byPath[path] = (state.stats.byPath[path] ?? 0) + 1;
  if (HEALTH.has(path)) return write(state, req, res, { code: 200, chunks: ['ok'], contentType: 'text/plain; charset=utf-8' }, false);
  if (!authorized(req, state.token)) return write(state, req, res, statusAnswer(status(401, 'Unauthorized', 'Unauthorized')), false);

  const r = route(path, state.documents());
  const subject: RequestSubject =
    r.kind === 'list' || r.kind === 'get'
      ? {
          verb: r.kind,
          path,
          type: r.type,
          namespace: r.namespace,
          name: r.kind === 'get' ? r.name : undefined,
          continued: r.kind === 'list' && url.searchParams.has('continue'),
        }
      : { verb: 'get', path };
  // Parsed before faults are taken: a fault may be aimed at the page a continue token asks for.
  const query = r.kind === 'list' ? parseListQuery(url.searchParams, r.type) : undefined;
  if (query) state.stats.lists++;
  const fault = state.faults.take(subject.type?.resource, query && 'page' in query ? query.page : undefined);
  if (fault?.kind === 'status') return write(state, req, res, statusAnswer(statusFor(fault.status, subject, fault.retryAfterSeconds)), false);
  return write(state, req, res, answerFor(state, req, r, subject, query), fault?.kind === 'drop');
}

function answerFor(state: ServerState, req: IncomingMessage, r: Route, subject: RequestSubject, query: ListQuery | Status | undefined): Answer {
  if (r.kind === 'notFound') return notFoundAnswer(state, subject);
  if (r.kind !== 'document') {
    // The authorizer runs before any handler: a forbidden request learns nothing about serving.
    if (!permits(state.rbac, r.type, r.namespace)) return statusAnswer(forbidden(subject));
    if (state.unavailableGroups.has(r.type.group)) return SERVICE_UNAVAILABLE;
    if (!state.cluster.serves(r.type)) return notFoundAnswer(state, subject);
  }
  if (req.method !== 'GET') return statusAnswer(status(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource'));
  const target = negotiate(req.headers.accept, r.kind !== 'document');
  if (target === undefined) return statusAnswer(status(406, 'NotAcceptable', `only the following media types are accepted: ${SERVED_MEDIA_TYPES.join(', ')}`));
  switch (r.kind) {
    case 'document':
      return { code: 200, chunks: [r.body] };
    case 'get':
      return getAnswer(state, r, subject, target);
    case 'list': {
      const listQuery = query as ListQuery | Status;
      return 'code' in listQuery ? statusAnswer(listQuery) : listAnswer(state, r, listQuery, target);
    }
  }
}

/**
 * The aggregator's answer for a group whose APIService is unavailable (kube-aggregator's
 * proxyError, an http.Error): plain text, not a Status.
 */
const SERVICE_UNAVAILABLE: Answer = plainText(503, 'service unavailable');

/**
 * A path nothing serves. Under a built-in group version the apiserver's router answers a NotFound
 * Status; a group it does not serve, or a resource no CRD defines, falls through to the mux's
 * plain-text 404 (fixture not-found-resource). A group version path of an unavailable
 * aggregated group is the aggregator's 503.
 */
function notFoundAnswer(state: ServerState, subject: RequestSubject): Answer {
  const [, root, first, second] = subject.path.split('/');
  const [group, version] = root === 'api' ? ['', first] : [first, second];
  if (root === 'apis' && group !== undefined && version !== undefined && state.unavailableGroups.has(group)) return SERVICE_UNAVAILABLE;
  const crd = RESOURCE_TYPES.some((t) => t.group === group && t.servedBy === 'crd');
  if (crd || group === undefined || version === undefined || !state.documents().has(groupVersionPath(group, version)))
    return plainText(404, '404 page not found');
  return statusAnswer(notFound(subject));
}

function getAnswer(state: ServerState, r: Extract<Route, { kind: 'get' }>, subject: RequestSubject, target: Target): Answer {
  const pos = state.cluster.find(r.type, r.namespace, r.name);
  if (pos === undefined) return statusAnswer(notFound(subject));
  if (target === 'PartialObjectMetadataList')
    return statusAnswer(status(406, 'NotAcceptable', `you requested PartialObjectMetadataList, but the requested object is not a list (${r.type.kind})`));
  return { code: 200, chunks: [`${state.cluster.json(r.type, pos, target === 'PartialObjectMetadata' ? 'metadata' : 'object')}\n`] };
}

/**
 * Validates list options the way kube-apiserver does (ValidateListOptions, then the storage
 * layer's continue checks) and finds the page being asked for.
 */
function parseListQuery(params: URLSearchParams, type: ResourceType): ListQuery | Status {
  const limitText = params.get('limit') ?? '';
  const limit = limitText === '' ? 0 : Number(limitText);
  if (!/^-?\d*$/.test(limitText) || !Number.isSafeInteger(limit))
    return status(400, 'BadRequest', `strconv.ParseInt: parsing ${JSON.stringify(limitText)}: invalid syntax`);
  const continueText = params.get('continue') ?? '';
  const rv = params.get('resourceVersion') ?? '';
  const match = params.get('resourceVersionMatch') ?? '';
  if (rv !== '' && !/^\d+$/.test(rv))
    return status(400, 'BadRequest', `invalid resource version: strconv.ParseUint: parsing ${JSON.stringify(rv)}: invalid syntax`);
  const forbiddenMatch =
    match === ''
      ? undefined
      : rv === ''
        ? 'resourceVersionMatch is forbidden unless resourceVersion is provided'
        : continueText !== ''
          ? 'resourceVersionMatch is forbidden when continue is provided'
          : match !== 'Exact' && match !== 'NotOlderThan'
            ? `Unsupported value: "${match}": supported values: "Exact", "NotOlderThan", ""`
            : match === 'Exact' && rv === '0'
              ? 'resourceVersionMatch "exact" is forbidden for resourceVersion "0"'
              : undefined;
  if (forbiddenMatch !== undefined) {
    const message = `${forbiddenMatch.startsWith('Unsupported') ? '' : 'Forbidden: '}${forbiddenMatch}`;
    return status(422, 'Invalid', `ListOptions.meta.k8s.io "" is invalid: resourceVersionMatch: ${message}`, {
      group: 'meta.k8s.io',
      kind: 'ListOptions',
      causes: [{ message }],
    });
  }
  const filter = listFilter(params, type);
  if (filter !== undefined && 'code' in filter) return filter;
  const limitOrNone = Math.max(0, limit);
  const filtered = filter !== undefined ? { filter } : {};
  if (continueText === '') return { limit: limitOrNone, fromCache: rv === '0', page: 1, ...filtered };
  // resourceVersion belongs to the first page only: a continue token carries its own (client-go's pager drops it).
  if (rv !== '' && rv !== '0') return status(400, 'BadRequest', 'specifying resource version is not allowed when using continue');
  const token = decodeContinue(continueText);
  if ('invalid' in token) return status(400, 'BadRequest', `invalid continue token: ${token.invalid}`);
  return { limit: limitOrNone, token, fromCache: false, page: token.page, ...filtered };
}

/** The list's labelSelector and fieldSelector, or the 400 the real server answers to a bad one. */
function listFilter(params: URLSearchParams, type: ResourceType): ListFilter | Status | undefined {
  const labelText = params.get('labelSelector') ?? '';
  const fieldText = params.get('fieldSelector') ?? '';
  if (labelText === '' && fieldText === '') return undefined;
  const labels = parseLabelSelector(labelText);
  if ('invalid' in labels) return status(400, 'BadRequest', labels.invalid);
  const fields = parseFieldSelector(fieldText, type);
  if ('invalid' in fields) return status(400, 'BadRequest', fields.invalid);
  return { labels, fields };
}

/**
 * One page of a list, in etcd key order. The list's metadata comes before its items, so the
 * page's last object is found first (walking positions is cheap; generating objects is not),
 * then the items are generated chunk by chunk as the response is written.
 */
function listAnswer(state: ServerState, r: Extract<Route, { kind: 'list' }>, query: ListQuery, target: Target): Answer {
  const { cluster } = state;
  if (target === 'PartialObjectMetadata')
    return statusAnswer(status(406, 'NotAcceptable', `you requested PartialObjectMetadata, but the requested object is a list (${r.type.kind}List)`));
  // etcd compacts old revisions (every 5 minutes by default); a list pinned to a compacted revision cannot continue.
  if (query.token && Date.now() - query.token.listStarted > state.continueTtlMs) return statusAnswer(status(410, 'Expired', EXPIRED_MESSAGE));

  const scope = cluster.scope(r.type, r.namespace);
  const from = query.token ? cluster.seek(scope, query.token.start) : scope.lo;
  const limit = query.fromCache ? 0 : query.limit;
  const { filter } = query;
  // With a filter, etcd3's GetList: a page holds `limit` matching objects, and its continue key
  // is the last key examined; there is more when any key follows, matching or not.
  const matched: number[] | undefined = filter ? [] : undefined;
  let count = 0;
  let last = -1;
  let more = false;
  for (const pos of cluster.positions(scope, from)) {
    if (limit > 0 && count === limit) {
      more = true;
      break;
    }
    last = pos;
    if (filter && !cluster.matches(r.type, pos, filter)) continue;
    matched?.push(pos);
    count++;
  }
  const rv = query.token?.rv ?? cluster.resourceVersion;
  let meta = `"resourceVersion":"${rv}"`;
  if (more) {
    const next = encodeContinue({
      rv,
      start: `${cluster.keyAt(scope, last)}\u0000`,
      page: query.page + 1,
      listStarted: query.token?.listStarted ?? Date.now(),
    });
    // The server counts what remains only when nothing is filtered out.
    meta += `,"continue":"${next}"${filter ? '' : `,"remainingItemCount":${cluster.remainingAfter(scope, last)}`}`;
  }
  const metadataOnly = target === 'PartialObjectMetadataList';
  const apiVersion = r.type.group ? `${r.type.group}/${r.type.version}` : r.type.version;
  const head = metadataOnly
    ? `{"kind":"PartialObjectMetadataList","apiVersion":"meta.k8s.io/v1","metadata":{${meta}},"items":[`
    : `{"kind":"${r.type.kind}List","apiVersion":"${apiVersion}","metadata":{${meta}},"items":[`;
  // Extra objects come after the generated ones, on the last page of a cluster-wide list.
  const extra = (more || r.namespace !== undefined ? [] : (state.extraObjects[r.type.key] ?? [])).filter((o) => !filter || matches(filter, o as ServedObject));
  function* items(): Generator<string> {
    const form = metadataOnly ? 'metadata' : 'item';
    if (matched) for (const pos of matched) yield cluster.json(r.type, pos, form);
    else {
      let n = 0;
      for (const pos of cluster.positions(scope, from)) {
        if (n++ === count) break;
        yield cluster.json(r.type, pos, form);
      }
    }
    for (const object of extra)
      yield asciiJson(metadataOnly ? { kind: 'PartialObjectMetadata', apiVersion: 'meta.k8s.io/v1', metadata: object.metadata } : object);
  }
  return { code: 200, chunks: chunked(head, items(), ']}\n') };
}

/**
 * The items joined into chunks of about CHUNK_BYTES, between `head` and `tail`, each item written
 * straight into the chunk's buffer: an item is a rope of the many pieces its template joined, and
 * writing it where it goes costs about a third less CPU than flattening a chunk of them into one
 * string and encoding that (Buffer.from), which was the server's largest cost after the templates.
 * All of it is ASCII (objects.ts writes only values from fixed ASCII alphabets; the head holds
 * names, numbers and a base64url token), which Latin-1 writes byte for byte as UTF-8 does, but
 * straight from the rope, where UTF-8 first flattens it into a copy.
 */
function* chunked(head: string, items: Iterable<string>, tail: string): Generator<Buffer> {
  let chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  let used = chunk.write(head, 'latin1');
  let separator = false;
  for (const item of items) {
    // Room for the item as UTF-8 would need (up to 3 bytes a character), so that chunks end where they always have.
    if (used + 1 + 3 * item.length > chunk.length) {
      yield chunk.subarray(0, used);
      chunk = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, 1 + 3 * item.length));
      used = 0;
    }
    if (separator) chunk[used++] = COMMA;
    separator = true;
    used += chunk.write(item, used, 'latin1');
  }
  const end = Buffer.from(tail);
  if (used + end.length > chunk.length) {
    yield chunk.subarray(0, used);
    yield end;
  } else {
    yield chunk.subarray(0, used + end.copy(chunk, used));
  }
}

/** JSON with every character past ASCII escaped: chunked() writes items as Latin-1. */
function asciiJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function plainText(code: number, text: string): Answer {
  return { code, chunks: [`${text}\n`], contentType: 'text/plain; charset=utf-8' };
}

function statusAnswer(body: Status): Answer {
  const retry = body.details?.retryAfterSeconds;
  return { code: body.code, chunks: [`${JSON.stringify(body)}\n`], ...(retry !== undefined ? { headers: { 'Retry-After': String(retry) } } : {}) };
}

function authorized(req: IncomingMessage, token: string): boolean {
  const match = /^bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1] === token;
}

function asBuffer(chunk: string | Buffer): Buffer {
  return typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
}

/** Resolves when `out` can take more, or when the client has gone. */
function drained(out: Writable, res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      out.off('drain', done);
      res.off('close', done);
      resolve();
    };
    out.on('drain', done);
    res.on('close', done);
  });
}

/**
 * Writes an answer with backpressure, counting body bytes. A one-chunk body gets a
 * Content-Length; a longer one is sent chunked, gzipped when it is large and the client accepts
 * gzip (and compression is on). With `drop`, half of the first chunk is sent and the connection
 * is then destroyed, as when an API server or a proxy dies mid-response.
 */
async function write(state: ServerState, req: IncomingMessage, res: ServerResponse, answer: Answer, drop: boolean): Promise<void> {
  const chunks = answer.chunks[Symbol.iterator]();
  const first = asBuffer(chunks.next().value ?? '');
  res.statusCode = answer.code;
  res.setHeader('Content-Type', answer.contentType ?? 'application/json');
  res.setHeader('Cache-Control', 'no-cache, private');
  res.setHeader('Audit-Id', randomUUID());
  // Go's http.Error and the apiserver's error writer both forbid sniffing an error body.
  if (answer.code >= 400) res.setHeader('X-Content-Type-Options', 'nosniff');
  for (const [name, value] of Object.entries(answer.headers ?? {})) res.setHeader(name, value);
  if (drop) {
    const part = first.subarray(0, Math.max(1, first.length >> 1));
    state.stats.bytes += part.length;
    res.write(part, () => res.destroy());
    return;
  }
  let next = chunks.next();
  // A body of more than one chunk is about CHUNK_BYTES or more.
  const gzip = state.compression && (first.length >= GZIP_THRESHOLD || !next.done) && /\bgzip\b/i.test(req.headers['accept-encoding'] ?? '');
  let out: Writable = res;
  if (gzip) {
    res.setHeader('Content-Encoding', 'gzip');
    res.setHeader('Vary', 'Accept-Encoding');
    const zip = createGzip();
    zip.on('data', (data: Buffer) => (state.stats.bytes += data.length));
    zip.pipe(res);
    out = zip;
  } else if (next.done) {
    res.setHeader('Content-Length', first.length);
  }
  const send = async (data: Buffer): Promise<void> => {
    if (!gzip) state.stats.bytes += data.length;
    if (!out.write(data)) await drained(out, res);
  };
  await send(first);
  for (; !next.done && !res.destroyed; next = chunks.next()) await send(asBuffer(next.value));
  out.end();
}
