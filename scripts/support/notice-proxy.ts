import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy between the built CLI and PostgreSQL that passes every byte through untouched and
 * keeps the text of each NoticeResponse the server sends: with auto_explain sending plans as
 * notices (test/support/plan-nodes.ts), a benchmark reads the plans of the statements kollect ran
 * in its own process, as a CronJob runs it, which ignores notices. Plain connections only
 * (`ssl: { mode: disable }`): after the startup packet, every message the server sends is a type
 * byte, a 4-byte length that counts itself, and the body (PostgreSQL's protocol, "Message Formats").
 */
export interface NoticeProxy {
  /** `url` with its host and port replaced by the proxy's. */
  url: string;
  /** Returns the notices received since the last call, and forgets them. */
  take(): string[];
  close(): Promise<void>;
}

const NOTICE = 'N'.charCodeAt(0);
/** The field of a notice that holds its message (PostgreSQL's "Error and Notice Message Fields"). */
const MESSAGE_FIELD = 'M'.charCodeAt(0);

/** The message field of a NoticeResponse body: fields of one code byte and a NUL-terminated string, then a NUL. */
function noticeMessage(body: Buffer): string {
  for (let at = 0; at < body.length && body[at] !== 0;) {
    const end = body.indexOf(0, at + 1);
    if (body[at] === MESSAGE_FIELD) return body.toString('utf8', at + 1, end);
    at = end + 1;
  }
  return '';
}

/** Reads the server's messages as they pass and hands each notice's message to `onNotice`. */
function tapNotices(server: Socket, onNotice: (message: string) => void): void {
  let pending: Buffer = Buffer.alloc(0);
  server.on('data', (chunk: Buffer) => {
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    while (pending.length - at >= 5) {
      const end = at + 1 + pending.readInt32BE(at + 1);
      if (end > pending.length) break;
      if (pending[at] === NOTICE) onNotice(noticeMessage(pending.subarray(at + 5, end)));
      at = end;
    }
    pending = pending.subarray(at);
  });
}

/** Starts a proxy on 127.0.0.1 in front of the server of `url`. */
export async function startNoticeProxy(url: string): Promise<NoticeProxy> {
  const target = new URL(url);
  let notices: string[] = [];
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port || 5432), target.hostname);
    tapNotices(upstream, (message) => notices.push(message));
    client.pipe(upstream).pipe(client);
    // One side's end or failure ends the other; the exporter sees a closed connection, as without the proxy.
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const proxied = new URL(url);
  proxied.hostname = '127.0.0.1';
  proxied.port = String(typeof address === 'object' && address ? address.port : 0);
  return {
    url: proxied.toString(),
    take: () => {
      const taken = notices;
      notices = [];
      return taken;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
