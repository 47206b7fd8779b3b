import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { createServer as createHttpsServer } from 'node:https';
import { join } from 'node:path';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { buffer } from 'node:stream/consumers';
import S3rver from 's3rver';
import { tempDir } from './store-fixture.js';
import { createServerCertificate } from './tls.js';

/**
 * A real S3-compatible server on 127.0.0.1 for tests and benchmarks: `s3rver` (npm) stores the
 * objects in a temporary folder, behind a small proxy that adds what s3rver lacks and AWS S3 does:
 *
 * - SigV4 signatures checked against the harness's own key pair (s3rver checks none): a wrong
 *   access key is 403 InvalidAccessKeyId, a wrong secret 403 SignatureDoesNotMatch;
 * - `If-Match` and `If-None-Match: *` on PUT (s3rver ignores both): 412 PreconditionFailed with
 *   S3's XML body, or 404 NoSuchKey for If-Match on a missing key. Requests to one bucket
 *   are served one at a time, so that of two racing conditional writers exactly one wins;
 * - aws-chunked bodies (`x-amz-content-sha256: STREAMING-...`, the SDK's default CRC32 trailers)
 *   refused with 501 NotImplemented: s3rver would store the chunk framing as the object's bytes;
 *   a body whose SHA-256 is not the signed one: 400 XAmzContentSHA256Mismatch;
 * - ListObjectsV2 past one page and DeleteObjects, which s3rver gets wrong, answered here;
 * - faults on request (an S3 error such as 503 SlowDown, a slow answer, a dropped connection),
 *   and deletes refused per key (denyDelete);
 * - a log of every request, so that a test can assert "zero requests".
 *
 * Path-style addressing only (`forcePathStyle: true`): the endpoint is an IP address.
 */

/** One request the proxy received, as a test asserts on it. */
export interface S3Request {
  method: string;
  bucket: string | undefined;
  /** The object key, decoded; undefined for a bucket-level request (list, DeleteObjects). */
  key: string | undefined;
  /** The raw query string, without `?` ('' when none): `list-type=2&prefix=...`, `delete`. */
  query: string;
  /** Request headers, lowercase names (`if-match`, `x-amz-content-sha256`, `content-encoding`...). */
  headers: Record<string, string>;
  /** The status answered; 0 when the connection was dropped. */
  status: number;
}

/** Which requests a fault applies to: all of them when no field is given. */
export interface S3RequestMatch {
  method?: string;
  /** An exact key, or a pattern tested against the key ('' for bucket-level requests). */
  key?: string | RegExp;
  /** Only requests whose raw query string contains this (e.g. `delete`, `list-type=2`). */
  query?: string;
}

/** What happens to a matching request. */
export type S3FaultAction =
  /** An S3 error answer with the XML body S3 sends: 503 SlowDown, 503 ServiceUnavailable, 409 ConditionalRequestConflict... */
  | { kind: 'error'; status: number; code: string; message?: string }
  /** The answer is held back this long, then the request goes through. */
  | { kind: 'slow'; delayMs: number }
  /** The connection is destroyed without an answer (the request never reaches the storage). */
  | { kind: 'drop' };

export type S3Fault = S3RequestMatch &
  S3FaultAction & {
    /** The first matching request it applies to, counted from 1 since inject() (default 1). */
    nth?: number;
    /** How many matching requests in a row from the nth on (default 1; Infinity for all). */
    times?: number;
  };

export interface S3ServerOptions {
  /** Serve HTTPS with a certificate for 127.0.0.1 that a throwaway CA signed (caFile). */
  tls?: boolean;
}

export interface S3Server {
  /** `http://127.0.0.1:PORT` (`https://` with `tls`): the proxy. */
  readonly endpoint: string;
  /** With `tls`: the CA that signed the proxy's certificate, as a PEM file (what a sink's `tls.caFile` names). */
  readonly caFile: string | undefined;
  readonly region: string;
  /** The one key pair the proxy accepts. */
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** Creates a bucket directly in the storage (no request is logged). */
  createBucket(name: string): Promise<void>;
  /** Every request received since start or the last clearRequests(), in order of arrival. */
  readonly requests: readonly S3Request[];
  /** How many logged requests match (all of them without a filter). */
  count(match?: S3RequestMatch): number;
  clearRequests(): void;
  /** Adds a fault; faults are checked in the order they were added, the first that applies wins. */
  inject(fault: S3Fault): void;
  /** Clears the faults and the keys denyDelete() protects. */
  clearFaults(): void;
  /** Refuses deletes of matching keys with AccessDenied (per key in a DeleteObjects answer), as a bucket policy or object lock would. */
  denyDelete(key: string | RegExp): void;
  /** An object's bytes and stored headers straight from the storage (no request is logged); undefined when absent. */
  readObject(bucket: string, key: string): Promise<{ body: Buffer; metadata: Record<string, string> } | undefined>;
  /** The keys under `prefix`, sorted, straight from the storage (no request is logged). */
  listKeys(bucket: string, prefix?: string): Promise<string[]>;
  close(): Promise<void>;
}

const REGION = 'us-east-1';

const XML_ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
const unescapeXml = (s: string): string =>
  s.replace(/&(#x[0-9a-f]+|#\d+|\w+);/gi, (entity, name: string) =>
    name.startsWith('#') ? String.fromCodePoint(Number(name.startsWith('#x') ? `0${name.slice(1)}` : name.slice(1))) : (XML_ENTITIES[name] ?? entity),
  );
const escapeXml = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

/** The XML error body S3 sends, e.g. for 412: `<Error><Code>PreconditionFailed</Code>...`. */
function s3ErrorBody(code: string, message: string, extra: Record<string, string> = {}): string {
  const fields = Object.entries({ Code: code, Message: message, ...extra, RequestId: randomBytes(8).toString('hex').toUpperCase() })
    .map(([name, value]) => `<${name}>${escapeXml(value)}</${name}>`)
    .join('');
  return `<?xml version="1.0" encoding="UTF-8"?>\n<Error>${fields}</Error>`;
}

function sendError(res: ServerResponse, status: number, code: string, message: string, extra?: Record<string, string>): void {
  const body = s3ErrorBody(code, message, extra);
  res.writeHead(status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}

/** RFC 3986 encoding as SigV4's canonical query string wants it. */
function uriEncode(value: string): string {
  return encodeURIComponent(value).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function canonicalQuery(query: string): string {
  if (query === '') return '';
  return query
    .split('&')
    .map((pair) => {
      const at = pair.indexOf('=');
      const [name, value] = at === -1 ? [pair, ''] : [pair.slice(0, at), pair.slice(at + 1)];
      const decode = (s: string): string => decodeURIComponent(s.replace(/\+/g, ' '));
      return [uriEncode(decode(name)), uriEncode(decode(value))] as const;
    })
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([name, value]) => `${name}=${value}`)
    .join('&');
}

const hmac = (key: Buffer | string, data: string): Buffer => createHmac('sha256', key).update(data).digest();

/**
 * Checks a request's SigV4 Authorization header as S3 does (the payload hash as the client
 * declared it in x-amz-content-sha256; S3's canonical URI is the path as sent, not encoded
 * again). Returns the S3 error code for a refused request, undefined for a good one.
 */
function signatureError(req: IncomingMessage, path: string, query: string, credentials: S3Server['credentials']): string | undefined {
  const authorization = req.headers.authorization;
  if (!authorization) return 'AccessDenied';
  const match = /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
    authorization,
  );
  if (!match) return 'AuthorizationHeaderMalformed';
  const [, accessKeyId, date, region, service, signedHeaders, signature] = match as unknown as [string, string, string, string, string, string, string];
  if (accessKeyId !== credentials.accessKeyId) return 'InvalidAccessKeyId';
  const headerLines = signedHeaders.split(';').map(
    (name) =>
      `${name}:${String(req.headers[name] ?? '')
        .trim()
        .replace(/\s+/g, ' ')}`,
  );
  const canonicalRequest = [req.method, path, canonicalQuery(query), ...headerLines, '', signedHeaders, String(req.headers['x-amz-content-sha256'] ?? '')].join(
    '\n',
  );
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', String(req.headers['x-amz-date'] ?? ''), scope, createHash('sha256').update(canonicalRequest).digest('hex')].join(
    '\n',
  );
  const signingKey = hmac(hmac(hmac(hmac(`AWS4${credentials.secretAccessKey}`, date), region), service), 'aws4_request');
  const expected = Buffer.from(hmac(signingKey, stringToSign).toString('hex'));
  return timingSafeEqual(expected, Buffer.from(signature)) ? undefined : 'SignatureDoesNotMatch';
}

function matches(match: S3RequestMatch, request: Pick<S3Request, 'method' | 'key' | 'query'>): boolean {
  if (match.method !== undefined && match.method.toUpperCase() !== request.method) return false;
  if (match.query !== undefined && !request.query.includes(match.query)) return false;
  if (match.key === undefined) return true;
  const key = request.key ?? '';
  return typeof match.key === 'string' ? match.key === key : match.key.test(key);
}

/** Starts s3rver and the proxy in front of it, both on 127.0.0.1 (ephemeral ports). */
export async function startS3Server(options: S3ServerOptions = {}): Promise<S3Server> {
  const directory = await tempDir('kollect-s3-');
  const tls = options.tls ? await createServerCertificate('127.0.0.1') : undefined;
  const caFile = tls ? join(directory, 'ca.pem') : undefined;
  if (tls) await writeFile(caFile!, tls.caPem);
  const storage = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory, vhostBuckets: false });
  const { port: storagePort } = await storage.run();
  const credentials = { accessKeyId: `KOLLECTTEST${randomBytes(5).toString('hex').toUpperCase()}`, secretAccessKey: randomBytes(30).toString('base64url') };

  const requests: S3Request[] = [];
  const faults: { fault: S3Fault; seen: number }[] = [];
  const undeletable: Array<string | RegExp> = [];
  /** The tail of each bucket's chain of requests: a request waits for the one before it. */
  const writing = new Map<string, Promise<void>>();

  /** One request to s3rver as it came (without the Authorization header: the proxy checked it, s3rver serves anonymous requests). */
  const forward = (req: IncomingMessage, res: ServerResponse, body: Buffer): Promise<number> =>
    new Promise((resolve, reject) => {
      const headers = { ...req.headers, host: `127.0.0.1:${storagePort}` };
      delete headers.authorization;
      const upstream = httpRequest({ host: '127.0.0.1', port: storagePort, method: req.method, path: req.url, headers }, (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
        answer.on('end', () => resolve(answer.statusCode ?? 502));
        answer.on('error', reject);
      });
      upstream.on('error', reject);
      upstream.end(body);
    });

  /** The stored object's ETag (quoted, as S3 gives it), or undefined when there is none. */
  const currentEtag = (path: string): Promise<string | undefined> =>
    new Promise((resolve, reject) => {
      const head = httpRequest({ host: '127.0.0.1', port: storagePort, method: 'HEAD', path }, (answer) => {
        answer.resume();
        resolve(answer.statusCode === 200 ? String(answer.headers.etag) : undefined);
      });
      head.on('error', reject);
      head.end();
    });

  const unquote = (etag: string): string => etag.trim().replace(/^W\//, '').replace(/^"|"$/g, '');

  /** S3's answer to a conditional PUT whose condition fails, or undefined when the write may go ahead. */
  const preconditionFailure = async (req: IncomingMessage, path: string): Promise<[number, string, string, Record<string, string>] | undefined> => {
    const ifMatch = req.headers['if-match'];
    const ifNoneMatch = req.headers['if-none-match'];
    if (ifMatch === undefined && ifNoneMatch === undefined) return undefined;
    const etag = await currentEtag(path);
    if (ifNoneMatch !== undefined && ifNoneMatch.trim() === '*' && etag !== undefined) {
      return [412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-None-Match' }];
    }
    if (ifMatch !== undefined) {
      if (etag === undefined) return [404, 'NoSuchKey', 'The specified key does not exist.', {}];
      if (ifMatch.trim() !== '*' && unquote(ifMatch) !== unquote(etag)) {
        return [412, 'PreconditionFailed', 'At least one of the pre-conditions you specified did not hold', { Condition: 'If-Match' }];
      }
    }
    return undefined;
  };

  /** Runs `write` after every earlier request to the same bucket has finished. */
  const serialised = async <T>(lockKey: string, write: () => Promise<T>): Promise<T> => {
    const before = writing.get(lockKey) ?? Promise.resolve();
    let done!: () => void;
    const mine = new Promise<void>((resolve) => (done = resolve));
    const tail = before.then(() => mine);
    writing.set(lockKey, tail);
    await before;
    try {
      return await write();
    } finally {
      done();
      if (writing.get(lockKey) === tail) writing.delete(lockKey);
    }
  };

  const handle = async (req: IncomingMessage, res: ServerResponse, entry: S3Request, path: string): Promise<number> => {
    const body = await buffer(req);
    const refused = signatureError(req, path, entry.query, credentials);
    if (refused === 'AccessDenied') return reply(res, 403, refused, 'Access Denied');
    if (refused === 'InvalidAccessKeyId') return reply(res, 403, refused, 'The AWS Access Key Id you provided does not exist in our records.');
    if (refused === 'SignatureDoesNotMatch') {
      return reply(res, 403, refused, 'The request signature we calculated does not match the signature you provided. Check your key and signing method.');
    }
    if (refused) return reply(res, 400, refused, 'The authorization header is malformed.');
    const payload = String(req.headers['x-amz-content-sha256'] ?? '');
    if (payload.startsWith('STREAMING-') || /aws-chunked/i.test(String(req.headers['content-encoding'] ?? ''))) {
      return reply(res, 501, 'NotImplemented', `this test server stores no aws-chunked body (x-amz-content-sha256: ${payload})`);
    }
    if (/^[0-9a-f]{64}$/.test(payload) && createHash('sha256').update(body).digest('hex') !== payload) {
      return reply(res, 400, 'XAmzContentSHA256Mismatch', "The provided 'x-amz-content-sha256' header does not match what was computed.");
    }

    const fault = dueFault(entry);
    if (fault?.kind === 'error') return reply(res, fault.status, fault.code, fault.message ?? 'Please reduce your request rate.');
    if (fault?.kind === 'drop') {
      res.socket?.destroy();
      return 0;
    }
    if (fault?.kind === 'slow') await new Promise((resolve) => setTimeout(resolve, fault.delayMs));

    // s3rver's file store races with itself (a delete removes the folder a concurrent write is
    // filling, a listing walks a folder being removed, a read meets a half-written object: 500s),
    // so each bucket serves one request at a time: as strongly consistent as S3, and the check of
    // a precondition and its write are one step.
    return serialised(entry.bucket ?? '', async () => {
      if (req.method === 'GET' && new URLSearchParams(entry.query).get('list-type') === '2') return listObjectsV2(res, entry.bucket ?? '', entry.query);
      if (req.method === 'POST' && new URLSearchParams(entry.query).has('delete')) return deleteObjects(res, entry.bucket ?? '', body);
      if (req.method === 'DELETE' && entry.key !== undefined && isUndeletable(entry.key)) return reply(res, 403, 'AccessDenied', 'Access Denied');
      const failure = req.method === 'PUT' && entry.key !== undefined ? await preconditionFailure(req, path) : undefined;
      if (failure) return reply(res, ...failure);
      return forward(req, res, body);
    });
  };

  /**
   * ListObjectsV2, answered here from the storage: s3rver makes its continuation tokens with DES,
   * which OpenSSL 3 (Node 17 and later) no longer offers, so any listing of more than one page
   * is a 500 there. The token here is the last key of the page, base64url.
   */
  async function listObjectsV2(res: ServerResponse, bucket: string, query: string): Promise<number> {
    if (!(await storage.store.getBucket(bucket))) return reply(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    const params = new URLSearchParams(query);
    const prefix = params.get('prefix') ?? '';
    const maxKeys = Math.min(1000, Number(params.get('max-keys') ?? 1000));
    const token = params.get('continuation-token');
    const startAfter = token !== null ? Buffer.from(token, 'base64url').toString('utf8') : (params.get('start-after') ?? '');
    const { objects, isTruncated } = await storage.store.listObjects(bucket, { prefix, startAfter, maxKeys });
    const urlEncoded = params.get('encoding-type') === 'url';
    const shown = (key: string): string => escapeXml(urlEncoded ? encodeURIComponent(key) : key);
    const contents = objects.map(
      ({ key, metadata }) =>
        `<Contents><Key>${shown(key)}</Key><LastModified>${new Date(metadata['last-modified'] ?? 0).toISOString()}</LastModified>` +
        `<ETag>${escapeXml(metadata.etag ?? '')}</ETag><Size>${metadata['content-length'] ?? 0}</Size><StorageClass>STANDARD</StorageClass></Contents>`,
    );
    const last = objects.at(-1)?.key;
    const body =
      '<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">' +
      `<Name>${escapeXml(bucket)}</Name><Prefix>${shown(prefix)}</Prefix><KeyCount>${objects.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys>` +
      (urlEncoded ? '<EncodingType>url</EncodingType>' : '') +
      `<IsTruncated>${isTruncated}</IsTruncated>` +
      (token !== null ? `<ContinuationToken>${escapeXml(token)}</ContinuationToken>` : '') +
      (isTruncated && last !== undefined ? `<NextContinuationToken>${Buffer.from(last).toString('base64url')}</NextContinuationToken>` : '') +
      `${contents.join('')}</ListBucketResult>`;
    res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) });
    res.end(body);
    return 200;
  }

  const isUndeletable = (key: string): boolean => undeletable.some((match) => (typeof match === 'string' ? match === key : match.test(key)));

  /**
   * DeleteObjects, answered here: s3rver deletes the keys all at once, which races with itself,
   * and it can refuse none. Keys that denyDelete() names are refused (AccessDenied) in the
   * answer's per-key <Error> entries, as S3 does for a key a bucket policy protects.
   */
  async function deleteObjects(res: ServerResponse, bucket: string, body: Buffer): Promise<number> {
    if (!(await storage.store.getBucket(bucket))) return reply(res, 404, 'NoSuchBucket', 'The specified bucket does not exist', { BucketName: bucket });
    const xml = body.toString('utf8');
    const keys = [...xml.matchAll(/<Key>([\s\S]*?)<\/Key>/g)].map((match) => unescapeXml(match[1]!));
    const quiet = /<Quiet>true<\/Quiet>/.test(xml);
    const entries: string[] = [];
    for (const key of keys) {
      if (isUndeletable(key)) {
        entries.push(`<Error><Key>${escapeXml(key)}</Key><Code>AccessDenied</Code><Message>Access Denied</Message></Error>`);
        continue;
      }
      if (await storage.store.existsObject(bucket, key)) await storage.store.deleteObject(bucket, key);
      if (!quiet) entries.push(`<Deleted><Key>${escapeXml(key)}</Key></Deleted>`);
    }
    const answer = `<?xml version="1.0" encoding="UTF-8"?>\n<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">${entries.join('')}</DeleteResult>`;
    res.writeHead(200, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(answer) });
    res.end(answer);
    return 200;
  }

  function reply(res: ServerResponse, status: number, code: string, message: string, extra?: Record<string, string>): number {
    sendError(res, status, code, message, extra);
    return status;
  }
  /** The first fault due for this request; every matching fault counts it. */
  const dueFault = (entry: S3Request): S3Fault | undefined => {
    let due: S3Fault | undefined;
    for (const slot of faults) {
      if (!matches(slot.fault, entry)) continue;
      slot.seen += 1;
      const first = slot.fault.nth ?? 1;
      if (!due && slot.seen >= first && slot.seen < first + (slot.fault.times ?? 1)) due = slot.fault;
    }
    return due;
  };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const [, bucket, ...rest] = url.pathname.split('/');
    const entry: S3Request = {
      method: req.method ?? 'GET',
      bucket: bucket ? decodeURIComponent(bucket) : undefined,
      key: rest.length > 0 && rest.join('/') !== '' ? decodeURIComponent(rest.join('/')) : undefined,
      query: url.search.replace(/^\?/, ''),
      headers: Object.fromEntries(Object.entries(req.headers).map(([name, value]) => [name, String(value)])),
      status: 0,
    };
    requests.push(entry);
    handle(req, res, entry, url.pathname).then(
      (status) => (entry.status = status),
      (error: unknown) => {
        if (!res.headersSent) reply(res, 500, 'InternalError', `test proxy: ${(error as Error).message}`);
        else res.destroy();
      },
    );
  };
  const proxy = tls ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, onRequest) : createServer(onRequest);
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  const { port } = proxy.address() as AddressInfo;

  const readAll = async (stream: NodeJS.ReadableStream): Promise<Buffer> => {
    const chunks: Buffer[] = [];
    for await (const chunk of stream) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };

  return {
    endpoint: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    caFile,
    region: REGION,
    credentials,
    async createBucket(name) {
      await storage.store.putBucket(name);
    },
    requests,
    count: (match = {}) => requests.filter((request) => matches(match, request)).length,
    clearRequests: () => void requests.splice(0),
    inject: (fault) => void faults.push({ fault, seen: 0 }),
    clearFaults: () => {
      faults.splice(0);
      undeletable.splice(0);
    },
    denyDelete: (key) => void undeletable.push(key),
    async readObject(bucket, key) {
      const object = await storage.store.getObject(bucket, key);
      if (!object) return undefined;
      return { body: await readAll(object.content), metadata: object.metadata };
    },
    async listKeys(bucket, prefix = '') {
      return (await storage.store.listObjects(bucket, { prefix })).objects.map((o) => o.key).sort();
    },
    async close() {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
      storage.httpServer.closeAllConnections();
      await storage.close();
      await rm(directory, { recursive: true, force: true });
    },
  };
}
