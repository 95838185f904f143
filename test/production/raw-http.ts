import { connect } from 'node:net';

// A bare TCP client for what fetch and undici refuse to send: oversized or
// malformed heads, bodies trickled byte by byte, clients that never read.

export interface RawAnswer {
  status: number | null; // null: the server closed without answering
  head: string;
  body: string;
  closedAfterMs: number;
}

export interface RawOptions {
  /** Parts sent one after another, `gapMs` apart (slow senders). */
  gapMs?: number;
  /** Give up (and destroy the socket) after this long. */
  timeoutMs?: number;
  /** Resolve as soon as a full answer is in, without waiting for the close. */
  untilAnswer?: boolean;
}

export function rawRequest(port: number, parts: (string | Buffer)[], opts: RawOptions = {}): Promise<RawAnswer> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let buf = Buffer.alloc(0);
    let done = false;
    let timer: NodeJS.Timeout | undefined;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      clearInterval(pump);
      sock.destroy();
      const text = buf.toString('latin1');
      const sep = text.indexOf('\r\n\r\n');
      const head = sep < 0 ? text : text.slice(0, sep);
      const m = /^HTTP\/1\.1 (\d{3})/.exec(head);
      resolve({ status: m ? Number(m[1]) : null, head, body: sep < 0 ? '' : buf.subarray(sep + 4).toString('utf8'), closedAfterMs: Date.now() - t0 });
    };
    const complete = () => {
      const text = buf.toString('latin1');
      const sep = text.indexOf('\r\n\r\n');
      if (sep < 0) return false;
      const cl = /content-length: (\d+)/i.exec(text.slice(0, sep));
      return cl ? buf.length - sep - 4 >= Number(cl[1]) : false;
    };
    sock.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      if (opts.untilAnswer && complete()) finish();
    });
    sock.on('close', finish);
    sock.on('error', finish);
    timer = setTimeout(finish, opts.timeoutMs ?? 30_000);
    let i = 0;
    const pump = setInterval(() => {
      if (done || i >= parts.length) return clearInterval(pump);
      sock.write(parts[i++]!);
    }, opts.gapMs ?? 0);
  });
}

/** An error body in the calling protocol's shape: OpenAI `{error:{type,message}}`, Anthropic `{type:"error",error:{type,message}}`. */
export function isProtocolError(body: unknown, protocol: 'openai' | 'anthropic'): boolean {
  if (!body || typeof body !== 'object') return false;
  const b = body as { type?: unknown; error?: { type?: unknown; message?: unknown; code?: unknown } };
  if (!b.error || typeof b.error !== 'object') return false;
  if (typeof b.error.type !== 'string' || typeof b.error.message !== 'string' || !b.error.message) return false;
  return protocol === 'anthropic' ? b.type === 'error' : typeof b.error.code === 'string' || b.error.code === null || b.error.code === undefined;
}
