import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startS3Server, type S3Request, type S3Server } from '../../test/support/s3-server.js';

/**
 * The S3 test server (test/support/s3-server.ts: s3rver behind the checking proxy) in a process of
 * its own, as a remote store is: a benchmark that measures a sink must not share its event loop
 * with the server's signature checks, payload hashing and storage. The benchmark reads the
 * proxy's request log over the IPC channel.
 */

/** A logged request as it crosses the IPC channel (without its headers). */
export type S3RequestSeen = Omit<S3Request, 'headers'>;

export interface S3ServerProcess {
  /** `http://127.0.0.1:PORT`: the proxy. */
  readonly endpoint: string;
  /** The one key pair the proxy accepts. */
  readonly credentials: S3Server['credentials'];
  /** Every request received since start or the last clearRequests(), in order of arrival. */
  requests(): Promise<S3RequestSeen[]>;
  clearRequests(): Promise<void>;
  /** Stops the server and removes its storage. */
  close(): Promise<void>;
}

/** Parent to server: one operation; the answer carries the same id. */
type Ask = { id: number; op: 'requests' | 'clear' | 'close' };
type Answer = { id: number; requests?: S3RequestSeen[] };
type Ready = { ready: true; endpoint: string; credentials: S3Server['credentials'] };

const SERVE_FLAG = '--serve-s3';

/** The server side: starts the server with `buckets`, says where it is, then answers asks until `close` or the parent goes. */
async function serve(buckets: string[]): Promise<void> {
  const server = await startS3Server();
  for (const bucket of buckets) await server.createBucket(bucket);
  const send = (message: Ready | Answer, then: () => void = () => undefined): void => void process.send?.(message, then);
  let closing: Promise<void> | undefined;
  const closeServer = (): Promise<void> => (closing ??= server.close());
  process.on('message', (ask: Ask) => {
    if (ask.op === 'requests') return send({ id: ask.id, requests: server.requests.map(({ headers: _headers, ...seen }) => seen) });
    if (ask.op === 'clear') {
      server.clearRequests();
      return send({ id: ask.id });
    }
    void closeServer().then(() => send({ id: ask.id }, () => process.exit(0)));
  });
  // The parent died without closing: leave no server and no storage behind.
  process.on('disconnect', () => void closeServer().finally(() => process.exit(0)));
  send({ ready: true, endpoint: server.endpoint, credentials: server.credentials });
}

/** Starts the server in a child process (under tsx, as the benchmarks run) with `buckets` created. */
export async function startS3ServerProcess(buckets: string[]): Promise<S3ServerProcess> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), [SERVE_FLAG, ...buckets], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const exited = once(child, 'exit').then(([code, signal]) => {
    throw new Error(`the S3 server process exited ${String(code ?? signal)}`);
  });
  exited.catch(() => undefined);
  const [ready] = (await Promise.race([once(child, 'message'), exited])) as [Ready];

  let nextId = 0;
  const ask = async (op: Ask['op']): Promise<Answer> => {
    const id = ++nextId;
    const answer = new Promise<Answer>((resolve) => {
      const onAnswer = (message: Answer): void => {
        if (message.id !== id) return;
        child.off('message', onAnswer);
        resolve(message);
      };
      child.on('message', onAnswer);
    });
    child.send({ id, op } satisfies Ask);
    return Promise.race([answer, exited]);
  };

  return {
    endpoint: ready.endpoint,
    credentials: ready.credentials,
    requests: async () => (await ask('requests')).requests ?? [],
    clearRequests: async () => void (await ask('clear')),
    close: async () => {
      if (child.exitCode !== null) return;
      const gone = once(child, 'exit');
      await ask('close');
      await gone;
    },
  };
}

if (process.argv[2] === SERVE_FLAG) await serve(process.argv.slice(3));
