import { spawn, execFile } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createGunzip, createInflate } from 'node:zlib';
import { createServerCertificate } from './tls.js';

/**
 * A real bare repository served by `git http-backend` (CGI) behind a small Node HTTP (or HTTPS) server on
 * 127.0.0.1, for tests and benchmarks: the smart HTTP protocol end to end, with a request
 * counter (to prove that a skipped export makes no request) and optional Basic auth.
 */

const execFileAsync = promisify(execFile);

/** Fixed identity and dates so that helper commits are reproducible. */
const GIT_ENV = {
  GIT_AUTHOR_NAME: 'test',
  GIT_AUTHOR_EMAIL: 'test@localhost',
  GIT_COMMITTER_NAME: 'test',
  GIT_COMMITTER_EMAIL: 'test@localhost',
  GIT_AUTHOR_DATE: '2026-01-01T00:00:00Z',
  GIT_COMMITTER_DATE: '2026-01-01T00:00:00Z',
  GIT_CONFIG_NOSYSTEM: '1',
  GIT_TERMINAL_PROMPT: '0',
};

const HTTP_BACKEND = process.env.GIT_HTTP_BACKEND ?? '/usr/lib/git-core/git-http-backend';

/** Runs the git CLI; rejects with stderr on a non-zero exit. */
export async function git(args: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {}): Promise<string> {
  if (options.input !== undefined) {
    return new Promise((resolve, reject) => {
      const child = spawn('git', args, { cwd: options.cwd, env: { ...process.env, ...GIT_ENV, ...options.env } });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      child.on('error', reject);
      child.on('close', (code) => {
        if (code === 0) resolve(Buffer.concat(out).toString('utf8'));
        else reject(new Error(`git ${args.join(' ')} exited ${code}: ${Buffer.concat(err).toString('utf8')}`));
      });
      child.stdin.end(options.input);
    });
  }
  const { stdout } = await execFileAsync('git', args, { cwd: options.cwd, env: { ...process.env, ...GIT_ENV, ...options.env }, maxBuffer: 512 * 1024 * 1024 });
  return stdout;
}

export interface BareRepoOptions {
  /** 'commit' (default): one initial commit on `branch` holding README.md. 'empty': no commits at all. */
  initial?: 'commit' | 'empty';
  branch?: string;
}

/** Creates a bare repository at `dir` that accepts pushes over HTTP. */
export async function createBareRepo(dir: string, options: BareRepoOptions = {}): Promise<string> {
  const branch = options.branch ?? 'main';
  await mkdir(dir, { recursive: true });
  await git(['init', '--bare', '--quiet', `--initial-branch=${branch}`, dir]);
  await git(['config', 'http.receivepack', 'true'], { cwd: dir });
  if ((options.initial ?? 'commit') === 'commit') {
    const blob = (await git(['hash-object', '-w', '--stdin'], { cwd: dir, input: '# inventory\n' })).trim();
    const tree = (await git(['mktree'], { cwd: dir, input: `100644 blob ${blob}\tREADME.md\n` })).trim();
    const commit = (await git(['commit-tree', tree, '-m', 'initial commit'], { cwd: dir })).trim();
    await git(['update-ref', `refs/heads/${branch}`, commit], { cwd: dir });
  }
  return dir;
}

export interface GitServerOptions extends BareRepoOptions {
  /** Require HTTP Basic auth with exactly these credentials; anything else gets 401. */
  auth?: { username: string; token: string };
  /** Repository folder name under the served root. */
  repoName?: string;
  /** Serve HTTPS with a certificate of a CA of its own (`caFile`), as a Git server of a private CA. */
  tls?: boolean;
  /**
   * Require this query parameter on every request (`?access_token=...`, as GitLab and Gitea
   * accept); a request without it gets 401. The backend never sees it.
   */
  queryToken?: { name: string; value: string };
}

/**
 * How the server stalls the POSTs of one service: `held`, the request waits `ms` before the
 * backend sees it (a busy host: nothing happens meanwhile; a client that gives up meanwhile is
 * never served); `late`, the backend serves it at once but the answer is sent `ms` after it ended
 * (a slow pre-receive hook, whose push has landed by then).
 */
export interface Stall {
  service: 'git-upload-pack' | 'git-receive-pack';
  mode: 'held' | 'late';
  ms: number;
  /** How many requests to stall; every one when absent. */
  times?: number;
}

export interface GitServer {
  /** Clone URL of the repository (no credentials). */
  url: string;
  /** Number of HTTP requests received since start or the last resetRequests(). */
  readonly requests: number;
  /** `METHOD path?query status` of each request, for diagnostics. */
  readonly requestLog: readonly string[];
  resetRequests(): void;
  close(): Promise<void>;
  /** The bare repository on disk. */
  bareDir: string;
  /** `git clone` of the served repository over HTTP into `dir` (with the credentials, when required). */
  cloneTo(dir: string): Promise<void>;
  /** Runs the git CLI inside the bare repository. */
  git(args: string[]): Promise<string>;
  /** Git CLI config arguments that this server needs: its credentials, its CA (empty without auth or TLS). */
  authArgs(): string[];
  /** With `tls`: the CA that signed the server's certificate, as a PEM file (what a sink's `tls.caFile` names). */
  caFile?: string;
  /** Stalls the matching requests from now on (see Stall); replaces the previous rule. */
  stall(rule: Stall): void;
  /** Resolves when the next request is stalled. */
  nextStall(): Promise<void>;
}

/** What handleCgi writes its answer to: the response itself, or a recording replayed later. */
type CgiOutput = Pick<ServerResponse, 'writeHead' | 'write' | 'end' | 'headersSent'>;

/** A CgiOutput that sends everything `ms` after the answer ended, unless the client left meanwhile. */
function lateAnswer(res: ServerResponse, ms: number): CgiOutput {
  const calls: Array<() => void> = [];
  let headersSent = false;
  const output = {
    get headersSent() {
      return headersSent;
    },
    writeHead: (...args: Parameters<ServerResponse['writeHead']>) => {
      headersSent = true;
      calls.push(() => res.writeHead(...args));
      return res;
    },
    write: (chunk: Buffer | string) => {
      calls.push(() => res.write(chunk));
      return true;
    },
    end: (chunk?: Buffer | string) => {
      calls.push(() => res.end(chunk));
      const timer = setTimeout(() => {
        if (!res.destroyed) for (const call of calls) call();
      }, ms);
      res.on('close', () => clearTimeout(timer));
      return res;
    },
  };
  return output as CgiOutput;
}

/** Parses the CGI header block that `git http-backend` writes before the body. */
function parseCgiHeaders(block: string): { status: number; headers: Record<string, string> } {
  let status = 200;
  const headers: Record<string, string> = {};
  for (const line of block.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
    else headers[name] = value;
  }
  return { status, headers };
}

function findHeaderEnd(buffer: Buffer): { end: number; skip: number } | undefined {
  const crlf = buffer.indexOf('\r\n\r\n');
  const lf = buffer.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { end: crlf, skip: 4 };
  if (lf >= 0) return { end: lf, skip: 2 };
  return undefined;
}

function handleCgi(root: string, req: IncomingMessage, res: CgiOutput, remoteUser: string | undefined, queryToken?: string): void {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  if (queryToken !== undefined) url.searchParams.delete(queryToken);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    GIT_CONFIG_NOSYSTEM: '1',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.startsWith('?') ? url.search.slice(1) : url.search,
    REQUEST_METHOD: req.method ?? 'GET',
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: '127.0.0.1',
    ...(remoteUser ? { REMOTE_USER: remoteUser } : {}),
    // Protocol v2 is negotiated through this header (git CLI clients send it).
    ...(typeof req.headers['git-protocol'] === 'string' ? { GIT_PROTOCOL: req.headers['git-protocol'] } : {}),
  };
  // The body is decompressed here, so the backend reads plain bytes until EOF: no CONTENT_LENGTH
  // is passed for compressed bodies (http-backend then reads to EOF, as for chunked requests).
  const encoding = (req.headers['content-encoding'] ?? '').toLowerCase();
  if (!encoding && req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
  const child = spawn(HTTP_BACKEND, [], { env });
  let header: Buffer | undefined = Buffer.alloc(0);
  child.stdout.on('data', (chunk: Buffer) => {
    if (header === undefined) {
      res.write(chunk);
      return;
    }
    header = Buffer.concat([header, chunk]);
    const found = findHeaderEnd(header);
    if (!found) return;
    const parsed = parseCgiHeaders(header.subarray(0, found.end).toString('latin1'));
    res.writeHead(parsed.status, parsed.headers);
    const rest = header.subarray(found.end + found.skip);
    header = undefined;
    if (rest.length > 0) res.write(rest);
  });
  const stderr: Buffer[] = [];
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  child.on('close', (code) => {
    if (header !== undefined) {
      res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`http-backend exited ${code}: ${Buffer.concat(stderr).toString('utf8')}`);
      return;
    }
    res.end();
  });
  child.on('error', (error) => {
    if (!res.headersSent) res.writeHead(500);
    res.end(String(error));
  });
  // http-backend may exit before reading the whole body (it refused the request): its answer,
  // already on stdout, tells the client; the EPIPE on the rest of the body says nothing more.
  child.stdin.on('error', () => undefined);
  let body: NodeJS.ReadableStream = req;
  if (encoding === 'gzip' || encoding === 'x-gzip') body = req.pipe(createGunzip());
  else if (encoding === 'deflate') body = req.pipe(createInflate());
  body.pipe(child.stdin);
}

/** Starts a server for one new bare repository in a temporary folder. */
export async function startGitServer(options: GitServerOptions = {}): Promise<GitServer> {
  const root = await mkdtemp(join(tmpdir(), 'kollect-git-server-'));
  const repoName = options.repoName ?? 'inventory.git';
  const bareDir = await createBareRepo(join(root, repoName), options);
  let requests = 0;
  const log: string[] = [];
  const expected = options.auth ? `Basic ${Buffer.from(`${options.auth.username}:${options.auth.token}`).toString('base64')}` : undefined;
  let stall: (Stall & { left: number }) | undefined;
  let stalled: Array<() => void> = [];

  const tls = options.tls ? await createServerCertificate('127.0.0.1') : undefined;
  let caFile: string | undefined;
  if (tls) {
    caFile = join(root, 'ca.crt');
    await writeFile(caFile, tls.caPem);
  }
  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    requests++;
    res.on('finish', () => log.push(`${req.method} ${req.url} ${res.statusCode}`));
    const query = new URL(req.url ?? '/', 'http://127.0.0.1').searchParams;
    const tokenMissing = options.queryToken !== undefined && query.get(options.queryToken.name) !== options.queryToken.value;
    if ((expected !== undefined && req.headers.authorization !== expected) || tokenMissing) {
      req.resume();
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="kollect-test"', 'Content-Type': 'text/plain' });
      res.end('authentication required\n');
      return;
    }
    const serve = (output: CgiOutput): void => handleCgi(root, req, output, options.auth?.username, options.queryToken?.name);
    if (!stall || stall.left <= 0 || req.method !== 'POST' || !(req.url ?? '').split('?')[0]!.endsWith(`/${stall.service}`)) {
      serve(res);
      return;
    }
    stall.left--;
    for (const notify of stalled) notify();
    stalled = [];
    if (stall.mode === 'late') {
      serve(lateAnswer(res, stall.ms));
      return;
    }
    const timer = setTimeout(() => serve(res), stall.ms);
    res.on('close', () => clearTimeout(timer));
  };
  const server = tls ? createHttpsServer({ cert: tls.certPem, key: tls.keyPem }, handle) : createServer(handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `${tls ? 'https' : 'http'}://127.0.0.1:${port}/${repoName}`;
  const authArgs = (): string[] => [
    ...(expected ? ['-c', `http.extraHeader=Authorization: ${expected}`] : []),
    ...(caFile ? ['-c', `http.sslCAInfo=${caFile}`] : []),
  ];

  return {
    url,
    get requests() {
      return requests;
    },
    get requestLog() {
      return log;
    },
    resetRequests: () => {
      requests = 0;
      log.length = 0;
    },
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(root, { recursive: true, force: true });
    },
    bareDir,
    cloneTo: async (dir) => {
      await git([...authArgs(), 'clone', '--quiet', url, dir]);
    },
    git: (args) => git(args, { cwd: bareDir }),
    authArgs,
    ...(caFile ? { caFile } : {}),
    stall: (rule) => {
      stall = { ...rule, left: rule.times ?? Number.POSITIVE_INFINITY };
    },
    nextStall: () => new Promise<void>((resolve) => stalled.push(resolve)),
  };
}

/**
 * Runs `body` against a new git server (see startGitServer) and closes the server afterwards,
 * whether `body` returns or throws; resolves to what `body` returns.
 */
export async function withGitServer<T>(body: (server: GitServer) => Promise<T>): Promise<T>;
export async function withGitServer<T>(options: GitServerOptions, body: (server: GitServer) => Promise<T>): Promise<T>;
export async function withGitServer<T>(first: GitServerOptions | ((server: GitServer) => Promise<T>), second?: (server: GitServer) => Promise<T>): Promise<T> {
  const [options, body] = typeof first === 'function' ? [{}, first] : [first, second!];
  const server = await startGitServer(options);
  try {
    return await body(server);
  } finally {
    await server.close();
  }
}
