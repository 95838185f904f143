import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';
import { isProtocolError, rawRequest } from './raw-http.js';

// Requests built to hurt: each gets a clear 4xx in the calling protocol's
// error shape (or, for a sender too slow to finish its request, a closed
// connection), and the process keeps serving.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 8 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }],
    limits: { maxBodyBytes: 64 * 1024, maxHeaderBytes: 8 * 1024, maxUrlBytes: 2048, bodyTimeout: '2s', clientStallTimeout: '3s' },
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  const code = await tg?.stop();
  await mock?.close();
  expect(code).toBe(0);
});

const auth = { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' };
const PATHS = { openai: '/v1/chat/completions', anthropic: '/v1/messages' } as const;

async function post(protocol: 'openai' | 'anthropic', body: string | Buffer, headers: Record<string, string> = {}, query = '') {
  const r = await fetch(`${tg.url}${PATHS[protocol]}${query}`, { method: 'POST', headers: { ...auth, 'anthropic-version': '2023-06-01', ...headers }, body });
  const text = await r.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = text;
  }
  return { status: r.status, json };
}

function deep(n: number): string {
  return '['.repeat(n) + ']'.repeat(n);
}

const valid = (protocol: 'openai' | 'anthropic') => ({ model: protocol === 'openai' ? 'gpt-4o-mini' : 'claude-haiku-4-5', max_tokens: 16, messages: [{ role: 'user', content: 'hi' }] });

const CASES: { name: string; body: (p: 'openai' | 'anthropic') => string | Buffer; status: number; message: RegExp }[] = [
  { name: 'malformed JSON', body: () => '{"model": "gpt-4o-mini", "messages": [', status: 400, message: /not valid JSON/ },
  { name: 'a JSON array instead of an object', body: () => '[1,2,3]', status: 400, message: /JSON object/ },
  { name: 'invalid UTF-8', body: (p) => Buffer.concat([Buffer.from(JSON.stringify(valid(p)).slice(0, -2)), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from('"}')]), status: 400, message: /UTF-8/ },
  { name: 'a number as the model', body: (p) => JSON.stringify({ ...valid(p), model: 5 }), status: 400, message: /model/ },
  { name: 'a string as messages', body: (p) => JSON.stringify({ ...valid(p), messages: 'hello' }), status: 400, message: /messages/ },
  { name: 'a string as stream', body: (p) => JSON.stringify({ ...valid(p), stream: 'yes' }), status: 400, message: /stream/ },
  { name: 'max_tokens beyond double range', body: (p) => JSON.stringify(valid(p)).replace('"max_tokens":16', '"max_tokens":1e400'), status: 400, message: /max_tokens/ },
  { name: 'max_tokens of 10^20', body: (p) => JSON.stringify({ ...valid(p), max_tokens: 1e20 }), status: 400, message: /max_tokens/ },
  { name: 'a negative max_tokens', body: (p) => JSON.stringify({ ...valid(p), max_tokens: -1 }), status: 400, message: /max_tokens/ },
  { name: 'arrays nested 10,000 deep', body: (p) => JSON.stringify(valid(p)).replace('"content":"hi"', `"content":${deep(10_000)}`), status: 400, message: /nests deeper/ },
  { name: 'objects nested 5,000 deep', body: (p) => JSON.stringify(valid(p)).replace('"content":"hi"', `"content":${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`), status: 400, message: /nests deeper/ },
  { name: 'a 100 KB body over the 64 KB limit', body: (p) => JSON.stringify({ ...valid(p), messages: [{ role: 'user', content: 'x'.repeat(100_000) }] }), status: 413, message: /larger than the 65536-byte limit/ },
  { name: 'a model name of 10,000 characters', body: (p) => JSON.stringify({ ...valid(p), model: 'm'.repeat(10_000) }), status: 400, message: /model/ },
];

describe('hostile request bodies', () => {
  for (const protocol of ['openai', 'anthropic'] as const) {
    for (const c of CASES) {
      it(`answers ${c.name} with ${c.status} in the ${protocol} error shape (${PATHS[protocol]})`, async () => {
        const r = await post(protocol, c.body(protocol));
        expect(r.status).toBe(c.status);
        expect(isProtocolError(r.json, protocol)).toBe(true);
        expect((r.json as { error: { message: string } }).error.message).toMatch(c.message);
      });
    }
  }

  it('forwards unknown fields untouched and answers normally', async () => {
    const r = await post('openai', JSON.stringify({ ...valid('openai'), some_future_field: { nested: [1, 2, 3] }, temperature: 0.2 }));
    expect(r.status).toBe(200);
    expect((mock.stats().lastBody as Record<string, unknown>).some_future_field).toEqual({ nested: [1, 2, 3] });
  });

  it('refuses a chunked body that grows past the limit with 413', async () => {
    const chunk = Buffer.alloc(16 * 1024, 'a');
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${CUSTOMER_KEY}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n`;
    const parts: (string | Buffer)[] = [head];
    for (let i = 0; i < 8; i++) parts.push(Buffer.concat([Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
    const r = await rawRequest(tg.port, parts, { untilAnswer: true, timeoutMs: 10_000 });
    expect(r.status).toBe(413);
    expect(isProtocolError(JSON.parse(r.body), 'openai')).toBe(true);
  });
});

describe('hostile request heads', () => {
  it('answers headers over maxHeaderBytes with 431, in each protocol shape', async () => {
    for (const protocol of ['openai', 'anthropic'] as const) {
      const r = await post(protocol, JSON.stringify(valid(protocol)), { 'x-padding': 'p'.repeat(10_000) });
      expect(r.status).toBe(431);
      expect(isProtocolError(r.json, protocol)).toBe(true);
    }
  });

  it('answers a URL over maxUrlBytes with 414', async () => {
    const r = await post('openai', JSON.stringify(valid('openai')), {}, `?q=${'a'.repeat(3000)}`);
    expect(r.status).toBe(414);
    expect(isProtocolError(r.json, 'openai')).toBe(true);
  });

  it('answers a malformed percent-encoding in an admin path with 400, not a crash', async () => {
    const r = await fetch(`${tg.url}/admin/customers/%E0%A4%A`, { headers: { authorization: 'Bearer test-admin-token-123' } });
    expect(r.status).toBe(400);
    expect(isProtocolError(await r.json(), 'openai')).toBe(true);
  });
});

describe('slow and stuck clients', () => {
  it('answers a body still trickling in after bodyTimeout with 408 and closes the connection', async () => {
    // 1 KB every 200 ms: fast enough for uWS's own slow-sender cut (16 KB per 10 s), slower than the 2 s deadline.
    const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${CUSTOMER_KEY}\r\nContent-Type: application/json\r\nContent-Length: 60000\r\n\r\n`;
    const parts: (string | Buffer)[] = [head, ...Array.from({ length: 59 }, () => Buffer.alloc(1000, ' '))];
    const r = await rawRequest(tg.port, parts, { gapMs: 200, timeoutMs: 15_000 });
    expect(r.status).toBe(408);
    expect(JSON.parse(r.body).error.type).toBe('request_timeout');
    expect(r.closedAfterMs).toBeGreaterThanOrEqual(2000);
    expect(r.closedAfterMs).toBeLessThan(5000);
  });

  it('drops a slow-loris sender whose headers never finish', async () => {
    const parts = 'POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nX-Slow: '.split('').concat(Array(100).fill('a'));
    const r = await rawRequest(tg.port, parts, { gapMs: 500, timeoutMs: 20_000 });
    expect(r.status).toBeNull();
    expect(r.closedAfterMs).toBeLessThan(16_000); // uWS: ~10 s idle timeout on an incomplete request
  });

  it('disconnects a client that stops reading a stream after clientStallTimeout, cancels the upstream, and records the call', async () => {
    mock.setBehavior({ completionTokens: 400_000 });
    try {
      const body = JSON.stringify({ model: 'gpt-4o-mini', stream: true, messages: [{ role: 'user', content: 'never read me' }] });
      const head = `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${CUSTOMER_KEY}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
      const { connect } = await import('node:net');
      const sock = connect(tg.port, '127.0.0.1');
      sock.on('error', () => {});
      sock.write(head);
      sock.pause(); // never read: the proxy's writes back up (a paused socket also never reports the close)
      const t0 = Date.now();
      let row: { status: number; reason: string; latency_ms: number } | undefined;
      while (!row && Date.now() - t0 < 20_000) {
        await sleep(250);
        const { rows } = await tg.admin('/admin/usage?customer=acme&limit=100000');
        row = rows.find((x: { status: number }) => x.status === 499);
      }
      sock.destroy();
      expect(row).toBeDefined();
      // Buffers fill within a few seconds; then 3 s without progress, swept once a second.
      expect(row!.latency_ms).toBeGreaterThan(3000);
      expect(row!.latency_ms).toBeLessThan(15_000);
      expect(row).toMatchObject({ status: 499, reason: 'client_disconnected' });
      expect(mock.stats().aborted).toBeGreaterThanOrEqual(1);
    } finally {
      mock.setBehavior({ completionTokens: 8 });
    }
  });

  it('is still serving after all of the above', async () => {
    expect(tg.proc.exitCode).toBeNull();
    expect((await fetch(`${tg.url}/healthz`)).status).toBe(200);
    const r = await post('openai', JSON.stringify(valid('openai')));
    expect(r.status).toBe(200);
    expect(tg.logs()).not.toMatch(/exited \(code|crashed/);
  });
});
