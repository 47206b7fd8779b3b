import http, { type IncomingHttpHeaders } from 'node:http';
import https from 'node:https';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { KubeConfig } from '@kubernetes/client-node';
import { KubeUnreachableError } from '../errors.js';

const gunzipAsync = promisify(gunzip);

export interface KubeResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The whole body, decompressed. */
  body: Buffer;
}

export interface GetOptions {
  /** The Accept header (content negotiation: full objects or PartialObjectMetadataList). */
  accept?: string;
  timeoutMs?: number;
  signal?: AbortSignal;
}

/**
 * The little kollect needs from the API server: authenticated GETs whose raw JSON it parses
 * itself. Hot-path pages never go through the generated client's ObjectSerializer, which costs
 * several times the parse itself.
 */
export interface KubeClient {
  /** The API server's URL, for messages. */
  readonly server: string;
  /** The kubeconfig context in use, for messages. */
  readonly context: string;
  /** GET `path` (with its query). Rejects with KubeUnreachableError when the exchange breaks. */
  get(path: string, options?: GetOptions): Promise<KubeResponse>;
  /** Closes idle keep-alive connections. */
  close(): void;
}

/**
 * A client over the kubeconfig's current context. Credentials come from the kubeconfig on each
 * request (exec plugins and rotated service-account tokens stay fresh); TLS settings build one
 * keep-alive agent, so a list of many pages reuses its connection.
 */
export function createKubeClient(kc: KubeConfig): KubeClient {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error('createKubeClient needs a kubeconfig with a current cluster (loadKubeConfig checks it)');
  const server = new URL(cluster.server);
  const basePath = server.pathname.replace(/\/$/, '');
  const transport = server.protocol === 'https:' ? https : http;
  let agent: http.Agent | undefined;

  const requestOptions = async (): Promise<https.RequestOptions> => {
    const options: https.RequestOptions = {};
    await kc.applyToHTTPSOptions(options);
    return options;
  };
  const agentFor = (options: https.RequestOptions): http.Agent => {
    // A proxy needs the client's own proxy agent; otherwise ours, with keep-alive.
    if (cluster.proxyUrl) return options.agent as http.Agent;
    const tls = {
      ca: options.ca,
      cert: options.cert,
      key: options.key,
      pfx: options.pfx,
      passphrase: options.passphrase,
      ...(cluster.skipTLSVerify ? { rejectUnauthorized: false } : {}),
      ...(cluster.tlsServerName ? { servername: cluster.tlsServerName } : {}),
    };
    return server.protocol === 'https:' ? new https.Agent({ keepAlive: true, ...tls }) : new http.Agent({ keepAlive: true });
  };

  const get = async (path: string, options: GetOptions = {}): Promise<KubeResponse> => {
    const auth = await requestOptions();
    const viaAgent = (agent ??= agentFor(auth));
    const headers: http.OutgoingHttpHeaders = {
      ...(auth.headers as http.OutgoingHttpHeaders | undefined),
      accept: options.accept ?? 'application/json',
      'accept-encoding': 'gzip',
      'user-agent': 'kollect',
    };
    if (auth.auth) headers.authorization = `Basic ${Buffer.from(auth.auth).toString('base64')}`;
    const url = `${server.origin}${basePath}${path}`;
    const response = await new Promise<KubeResponse>((resolve, reject) => {
      const fail = (why: string, cause?: unknown): void => reject(new KubeUnreachableError(`GET ${path}: ${why}`, { server: server.origin, path }, { cause }));
      const request = transport.get(url, { agent: viaAgent, headers, ...(options.signal ? { signal: options.signal } : {}) });
      request.on('error', (error) => fail(error.message, error));
      if (options.timeoutMs !== undefined) request.setTimeout(options.timeoutMs, () => request.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
      request.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('error', (error) => fail(`the response broke off: ${error.message}`, error));
        res.on('end', () => {
          if (!res.complete) return fail('the connection closed before the response was complete');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) });
        });
      });
    });
    if (response.headers['content-encoding'] === 'gzip') {
      try {
        response.body = await gunzipAsync(response.body);
      } catch (error) {
        throw new KubeUnreachableError(`GET ${path}: the compressed response is damaged`, { server: server.origin, path }, { cause: error });
      }
    }
    return response;
  };

  return {
    server: server.origin + basePath,
    context: kc.getCurrentContext(),
    get,
    close: () => {
      agent?.destroy();
    },
  };
}
