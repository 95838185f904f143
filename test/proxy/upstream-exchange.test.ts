import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Pool } from 'undici';
import { UpstreamExchange, upstreamHead } from '../../src/proxy/upstream-exchange.ts';

// UpstreamExchange is undici's raw handler (header Buffers, no objects):
// against a real server, over a real pool, it reads the two headers the
// relays use as undici's parsed headers gave them, and the body whole or in
// pieces, including past the high-water mark where the socket is paused.

const BIG = 3 * 1024 * 1024;
let server: Server;
let pool: Pool;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/headers') {
      // Names in any case; a repeated content-type, as a broken upstream may send.
      res.writeHead(429, ['Content-Type', 'application/json', 'X-Other', 'x', 'CONTENT-TYPE', 'charset=utf-8', 'Retry-After', '7']);
      res.end('{"error":"slow down"}');
    } else if (req.url === '/plain') {
      res.writeHead(200, ['x-request-id', 'abc']);
      res.end('ok');
    } else {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      res.end(Buffer.alloc(BIG, 7));
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  pool = new Pool(`http://127.0.0.1:${(server.address() as AddressInfo).port}`, { connections: 2 });
});

afterAll(async () => {
  await pool.close();
  await new Promise((r) => server.close(r));
});

function call(path: string, maxBytes = 10 * BIG): UpstreamExchange {
  const up = new UpstreamExchange(maxBytes);
  pool.dispatch({ path, method: 'POST', body: Buffer.from('{}'), headers: { 'content-type': 'application/json' } }, up);
  return up;
}

describe('UpstreamExchange', () => {
  it('reads content-type and retry-after in any case, a repeated header as undici parsed it', async () => {
    const up = call('/headers');
    expect(await up.head).toEqual({ status: 429, contentType: 'application/json,charset=utf-8', retryAfter: '7' });
    expect((await up.readAll()).toString()).toBe('{"error":"slow down"}');
  });

  it('gives an empty content-type and no retry-after when the answer has neither', async () => {
    const up = call('/plain');
    expect(await up.head).toEqual({ status: 200, contentType: '', retryAfter: undefined });
    expect((await up.readAll()).toString()).toBe('ok');
  });

  it('reads a body larger than the high-water mark piece by piece (the socket paused and resumed)', async () => {
    const up = call('/big');
    await up.head;
    let n = 0;
    for (let c = await up.next(); c; c = await up.next()) {
      n += c.length;
      await new Promise((r) => setImmediate(r)); // a consumer slower than the socket
    }
    expect(n).toBe(BIG);
  });

  it('fails an answer over its byte limit', async () => {
    const up = call('/big', 1024 * 1024);
    await up.head;
    await expect(up.readAll()).rejects.toMatchObject({ code: 'TG_UPSTREAM_TOO_LARGE' });
  });

  it('parses raw header pairs as parseHeaders would: a third value makes a list', () => {
    const raw = ['Retry-After', '1', 'retry-after', '2', 'RETRY-AFTER', '3'].map((s) => Buffer.from(s));
    expect(upstreamHead(503, raw)).toEqual({ status: 503, contentType: '', retryAfter: ['1', '2', '3'] });
  });
});
