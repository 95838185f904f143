import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { Agent, request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { APP_KEY, CUSTOMER_KEY, providers } from '../helpers/fixtures.js';
import { isProtocolError, rawRequest } from './raw-http.js';

// Thousands of generated requests per run: valid calls with hostile
// mutations, random JSON, random bytes, odd methods, paths and headers.
// Whatever arrives, the proxy answers below 500 with a well-formed body (an
// error in the calling protocol's shape), and never crashes.

const RUNS = Number(process.env.TG_FUZZ_RUNS ?? 3000);
const RAW_RUNS = 400;

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
let agent: Agent;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 3 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1_000_000, unit: 'USD', period: 'month' }] }],
    appKeys: [APP_KEY],
    limits: { maxBodyBytes: 256 * 1024, maxHeaderBytes: 8 * 1024, maxUrlBytes: 2048 },
  }, { clockStart: TEST_CLOCK });
  agent = new Agent({ connections: 4, headersTimeout: 30_000, bodyTimeout: 30_000 });
});

afterAll(async () => {
  await agent?.close();
  const code = await tg?.stop();
  await mock?.close();
  expect(code).toBe(0);
});

const ENDPOINT_PATHS = ['/v1/chat/completions', '/v1/responses', '/v1/embeddings', '/v1/messages'];
const printable = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 300 });
const anyValue = fc.oneof(
  fc.anything({ maxDepth: 3 }),
  fc.constantFrom(1e308, -1, 0, 1.5, 2 ** 53 + 1, Number.MAX_SAFE_INTEGER, '', 'gpt-4o-mini', null, true, [], {}),
);

const validMessages = fc.array(fc.record({ role: fc.constantFrom('user', 'assistant', 'system'), content: fc.string({ maxLength: 200 }) }), { minLength: 1, maxLength: 3 });

/** A plausible call with any field possibly replaced by something hostile, plus unknown fields. */
const mutatedCall = fc.record({
  model: fc.oneof({ weight: 4, arbitrary: fc.constantFrom('gpt-4o-mini', 'claude-haiku-4-5', 'text-embedding-3-small') }, fc.string({ maxLength: 300 }), anyValue),
  messages: fc.oneof({ weight: 4, arbitrary: validMessages }, anyValue),
  input: fc.oneof(fc.string({ maxLength: 100 }), fc.array(fc.string({ maxLength: 20 }), { maxLength: 4 }), anyValue),
  stream: fc.oneof({ weight: 4, arbitrary: fc.boolean() }, anyValue),
  max_tokens: fc.oneof({ weight: 3, arbitrary: fc.integer({ min: 1, max: 64 }) }, fc.double(), fc.bigInt().map(String), anyValue),
  stream_options: fc.oneof(fc.constant({ include_usage: true }), anyValue),
  extra: fc.dictionary(fc.string({ maxLength: 20 }), anyValue, { maxKeys: 3 }),
}, { requiredKeys: [] }).map(({ extra, ...r }) => JSON.stringify({ ...extra, ...r }));

const deepNest = fc.tuple(fc.integer({ min: 50, max: 20_000 }), fc.constantFrom('[', '{"a":')).map(([n, open]) =>
  `{"model":"gpt-4o-mini","messages":[{"role":"user","content":${open.repeat(n)}1${(open === '[' ? ']' : '}').repeat(n)}}]}`);

const hugeNumbers = fc.constantFrom('1e999', '-1e999', '123456789012345678901234567890', '0.0000000000000000000001', '-0', '1E+400')
  .map((n) => `{"model":"gpt-4o-mini","max_tokens":${n},"messages":[{"role":"user","content":"hi"}]}`);

const body = fc.oneof(
  { weight: 6, arbitrary: mutatedCall.map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 200 }).map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: deepNest.map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: hugeNumbers.map((s) => Buffer.from(s)) },
  { weight: 1, arbitrary: mutatedCall.map((s) => Buffer.concat([Buffer.from(s.slice(0, -1)), Buffer.from([0xff, 0xc3, 0x28]), Buffer.from('}')])) },
  { weight: 1, arbitrary: fc.constant(Buffer.alloc(300 * 1024, 'a')) },
);

const auth = fc.oneof(
  { weight: 6, arbitrary: fc.constant({ authorization: `Bearer ${CUSTOMER_KEY}` }) },
  { weight: 2, arbitrary: fc.constant({ 'x-api-key': CUSTOMER_KEY }) },
  { weight: 2, arbitrary: printable.map((c) => ({ authorization: `Bearer ${APP_KEY}`, 'x-tollgate-customer': c })) },
  { weight: 1, arbitrary: printable.map((k) => ({ authorization: `Bearer ${k}` })) },
  { weight: 1, arbitrary: printable.map((k) => ({ authorization: k })) },
  { weight: 1, arbitrary: fc.constant({}) },
);

const someHeaders = fc.record({
  'x-tollgate-agent': printable,
  'x-tollgate-tags': printable,
  'idempotency-key': printable,
  'anthropic-version': printable,
  'content-type': fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', ''),
  'x-padding': fc.integer({ min: 0, max: 12_000 }).map((n) => 'p'.repeat(n)),
}, { requiredKeys: [] });
const extraHeaders = fc.oneof({ weight: 3, arbitrary: fc.constant({} as Record<string, string>) }, { weight: 2, arbitrary: someHeaders });

const path = fc.oneof(
  { weight: 10, arbitrary: fc.constantFrom(...ENDPOINT_PATHS) },
  { weight: 1, arbitrary: fc.constantFrom('/v1/models', '/healthz', '/readyz', '/metrics', '/admin/usage', '/admin/customers/acme', '/admin/customers/%E0%A4%A', '/v1/chat/completions?x=1') },
  { weight: 1, arbitrary: fc.webPath().map((p) => (p.startsWith('/') ? p : `/${p}`)) },
  { weight: 1, arbitrary: fc.tuple(fc.constantFrom(...ENDPOINT_PATHS), printable).map(([p, q]) => `${p}?${encodeURIComponent(q)}${'q'.repeat(q.length * 8)}`) },
);

const method = fc.oneof({ weight: 12, arbitrary: fc.constant('POST') }, fc.constantFrom('GET', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'));

const hostileCall = fc.record({ method, path, auth, headers: extraHeaders, body });

/** Well-formed calls, so a good share of each run goes all the way through the upstream and the ledger. */
const validCall = fc.tuple(fc.constantFrom(...ENDPOINT_PATHS), fc.boolean(), fc.string({ maxLength: 200 }), fc.integer({ min: 1, max: 32 })).map(([p, stream, text, max]) => {
  const bodies: Record<string, unknown> = {
    '/v1/chat/completions': { model: 'gpt-4o-mini', stream, max_tokens: max, messages: [{ role: 'user', content: text }] },
    '/v1/responses': { model: 'gpt-4o-mini', stream, max_output_tokens: max, input: text },
    '/v1/embeddings': { model: 'text-embedding-3-small', input: text || 'x' },
    '/v1/messages': { model: 'claude-haiku-4-5', stream, max_tokens: max, messages: [{ role: 'user', content: text || 'x' }] },
  };
  return { method: 'POST', path: p, auth: { authorization: `Bearer ${CUSTOMER_KEY}` } as Record<string, string>, headers: {} as Record<string, string>, body: Buffer.from(JSON.stringify(bodies[p])) };
});

const call = fc.oneof({ weight: 1, arbitrary: validCall }, { weight: 4, arbitrary: hostileCall });

interface Tally { sent: number; byStatus: Record<number, number>; bad: string[] }

function protocolOf(p: string): 'openai' | 'anthropic' {
  return p.startsWith('/v1/messages') ? 'anthropic' : 'openai';
}

describe('fuzzing the proxy', () => {
  it(`answers ${RUNS} generated requests below 500 with well-formed bodies, and keeps running`, async () => {
    const tally: Tally = { sent: 0, byStatus: {}, bad: [] };
    await fc.assert(fc.asyncProperty(call, async (c) => {
      const headers: Record<string, string> = { ...c.auth, ...c.headers };
      if (headers['content-type'] === '') delete headers['content-type'];
      const r = await request(`${tg.url}${c.path}`, {
        method: c.method as 'POST',
        dispatcher: agent,
        headers,
        body: c.method === 'GET' ? undefined : c.body,
      });
      const text = await r.body.text();
      tally.sent++;
      tally.byStatus[r.statusCode] = (tally.byStatus[r.statusCode] ?? 0) + 1;
      const where = `${c.method} ${c.path.slice(0, 80)} -> ${r.statusCode} ${text.slice(0, 200)}`;
      if (r.statusCode >= 500) tally.bad.push(`5xx: ${where}`);
      if (r.statusCode >= 400) {
        let json: unknown;
        try {
          json = JSON.parse(text);
        } catch {
          tally.bad.push(`not JSON: ${where}`);
          return;
        }
        if (!isProtocolError(json, protocolOf(c.path))) tally.bad.push(`wrong error shape: ${where}`);
      }
    }), { numRuns: RUNS, seed: process.env.TG_FUZZ_SEED ? Number(process.env.TG_FUZZ_SEED) : undefined });

    console.log(`fuzz: ${tally.sent} requests, statuses ${JSON.stringify(tally.byStatus)}, ${tally.bad.length} bad answers`);
    expect(tally.sent).toBe(RUNS);
    expect(tally.bad.slice(0, 10)).toEqual([]);
    // Enough of the generated calls were valid to reach the upstream, and enough were refused.
    expect(tally.byStatus[200] ?? 0).toBeGreaterThan(RUNS / 10);
    expect(tally.byStatus[400] ?? 0).toBeGreaterThan(RUNS / 10);
  });

  it(`survives ${RAW_RUNS} malformed HTTP requests on raw sockets`, async () => {
    const raw = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 2048 }).map((b) => Buffer.from(b)),
      fc.tuple(fc.constantFrom('POST', 'GET', 'BREW', ''), fc.string({ maxLength: 100 }), fc.constantFrom('HTTP/1.1', 'HTTP/1.0', 'HTTP/9', ''), fc.array(fc.string({ maxLength: 60 }), { maxLength: 10 }), fc.uint8Array({ maxLength: 200 }))
        .map(([m, p, v, hs, b]) => Buffer.concat([Buffer.from(`${m} /${p} ${v}\r\n${hs.join('\r\n')}\r\n\r\n`), Buffer.from(b)])),
      fc.tuple(fc.integer({ min: -5, max: 1 << 30 }), fc.uint8Array({ maxLength: 100 })).map(([n, b]) =>
        Buffer.concat([Buffer.from(`POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${CUSTOMER_KEY}\r\nContent-Length: ${n}\r\nTransfer-Encoding: chunked\r\n\r\n`), Buffer.from(b)])),
    );
    const samples = fc.sample(raw, RAW_RUNS);
    for (let i = 0; i < samples.length; i += 50) {
      await Promise.all(samples.slice(i, i + 50).map((b) => rawRequest(tg.port, [b], { timeoutMs: 300 })));
    }
    expect(tg.proc.exitCode).toBeNull();
    expect((await fetch(`${tg.url}/healthz`)).status).toBe(200);
  });

  it('logged no handler fault, shard crash or unhandled rejection', () => {
    expect(tg.logs()).not.toMatch(/request handler threw|unhandled rejection|crashed|exited \(code/);
  });
});
