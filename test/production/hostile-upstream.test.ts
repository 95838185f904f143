import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { request } from 'undici';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, sleep } from '../helpers/fixtures.js';
import { isProtocolError } from './raw-http.js';

// Upstreams that misbehave: a stream that never ends, an SSE event larger
// than any real one, broken events, a body of gigabytes, an error that
// quotes the provider key. Each call ends with a clear answer in the
// client's protocol, is in the ledger, and holds no budget afterwards.

const PROVIDER_KEY = 'sk-hostile-provider-key-0123456789';
let upstream: Server;
let base: string;
let tg: Tollgate;

function chatChunk(i: number): string {
  return `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [{ index: 0, delta: { content: `tok${i} ` }, finish_reason: null }] })}\n\n`;
}

const ANTHROPIC_START = `event: message_start\ndata: ${JSON.stringify({ type: 'message_start', message: { id: 'm1', type: 'message', role: 'assistant', model: 'claude-haiku-4-5', content: [], usage: { input_tokens: 5, output_tokens: 1 } } })}\n\nevent: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`;

beforeAll(async () => {
  upstream = createServer((req, res) => {
    const mode = req.url!.split('/')[1];
    req.resume();
    res.on('error', () => {});
    switch (mode) {
      case 'endless-sse': {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let i = 0;
        const t = setInterval(() => res.write(chatChunk(i++)), 20);
        res.on('close', () => clearInterval(t));
        return;
      }
      case 'huge-event': {
        // One event that never ends: 12 MB of data with no blank line.
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chatChunk(0));
        res.write('data: ' + 'x'.repeat(12 * 1024 * 1024));
        return;
      }
      case 'huge-event-anthropic': {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(ANTHROPIC_START);
        res.write('event: content_block_delta\ndata: ' + 'y'.repeat(12 * 1024 * 1024));
        return;
      }
      case 'malformed-sse': {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write(chatChunk(0));
        res.write('data: {"choices": [ this is not json\n\n');
        res.write(': a comment line\n\nevent\n\ndata\n\n\n\n');
        res.write(chatChunk(1));
        res.write(`data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', created: 1, model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 } })}\n\n`);
        res.end('data: [DONE]\n\n');
        return;
      }
      case 'giant-body': {
        // "Gigabytes": an endless JSON body; the proxy must stop reading at its limit.
        res.writeHead(200, { 'content-type': 'application/json' });
        res.write('{"id":"x","choices":[{"message":{"content":"');
        const block = 'z'.repeat(1024 * 1024);
        const pump = () => {
          while (res.write(block)) { /* until backpressure */ }
        };
        res.on('drain', pump);
        pump();
        return;
      }
      case 'echo-key-401':
      case 'echo-key-400': {
        const status = mode === 'echo-key-401' ? 401 : 400;
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { type: 'invalid_request_error', code: null, message: `Incorrect API key provided: ${req.headers.authorization ?? req.headers['x-api-key']}` } }));
        return;
      }
      default:
        res.writeHead(404).end();
    }
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;

  const modes = ['endless-sse', 'huge-event', 'malformed-sse', 'giant-body', 'echo-key-401', 'echo-key-400'];
  tg = await startTollgate({
    providers: [
      ...modes.map((m) => ({ name: m, type: 'openai', baseUrl: `${base}/${m}/v1`, apiKey: PROVIDER_KEY, timeouts: { total: m === 'endless-sse' ? '2s' : '30s', firstByte: '5s' } })),
      { name: 'huge-event-anthropic', type: 'anthropic', baseUrl: `${base}/huge-event-anthropic`, apiKey: PROVIDER_KEY },
    ],
    routes: [
      ...modes.map((m) => ({ model: m, targets: [{ provider: m, model: 'gpt-4o-mini' }] })),
      { model: 'huge-event-anthropic', targets: [{ provider: 'huge-event-anthropic', model: 'claude-haiku-4-5' }] },
    ],
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }],
    limits: { maxUpstreamBodyBytes: 16 * 1024 * 1024 },
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  const code = await tg?.stop();
  upstream?.closeAllConnections();
  await new Promise((r) => upstream?.close(r));
  expect(code).toBe(0);
});

async function call(model: string, stream: boolean, path = '/v1/chat/completions') {
  const anthropic = path === '/v1/messages';
  const r = await request(`${tg.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({ model, stream, max_tokens: anthropic ? 100 : undefined, messages: [{ role: 'user', content: 'hostile upstream test' }] }),
    headersTimeout: 60_000,
    bodyTimeout: 60_000,
  });
  return { status: r.statusCode, id: r.headers['x-tollgate-request-id'] as string, text: await r.body.text() };
}

const rowOf = (id: string) => tg.usageRow('acme', id);

async function noHoldsLeft() {
  const view = await tg.admin('/admin/customers/acme');
  expect(view.budgets.every((b: { reserved: number }) => b.reserved === 0)).toBe(true);
}

/** The error event at the end of an OpenAI chat stream. */
function lastStreamError(text: string): { type: string; message: string } | undefined {
  const events = text.split('\n\n').filter(Boolean);
  const last = events[events.length - 1] ?? '';
  const data = last.split('\n').find((l) => l.startsWith('data: '));
  try {
    return data ? JSON.parse(data.slice(6)).error : undefined;
  } catch {
    return undefined;
  }
}

describe('an upstream that misbehaves', () => {
  it('an endless SSE stream is cut at the total timeout: the client gets what came and a stream error, and the call is billed', async () => {
    const t0 = Date.now();
    const r = await call('endless-sse', true);
    expect(Date.now() - t0).toBeLessThan(6000);
    expect(r.status).toBe(200);
    expect(r.text).toContain('tok0');
    expect(r.text).not.toContain('[DONE]');
    expect(lastStreamError(r.text)).toMatchObject({ type: 'upstream_error', message: expect.stringMatching(/upstream total timeout/) });
    const row = await rowOf(r.id);
    expect(row.reason).toMatch(/upstream_stream_cut/);
    expect(row.usage_source).toBe('tokenizer');
    expect(row.completion_tokens).toBeGreaterThan(10);
    expect(row.cost_usd).toBeGreaterThan(0);
    await noHoldsLeft();
  });

  it('an SSE event larger than the event limit ends the stream with a clear error in the OpenAI shape', async () => {
    const r = await call('huge-event', true);
    expect(r.status).toBe(200);
    expect(r.text).toContain('tok0');
    expect(r.text.length).toBeLessThan(100_000); // the oversized event is never relayed
    expect(lastStreamError(r.text)?.message).toMatch(/SSE event larger than/);
    const row = await rowOf(r.id);
    expect(row.reason).toMatch(/upstream_stream_cut/);
    await noHoldsLeft();
  });

  it('an SSE event larger than the event limit ends an Anthropic stream with an `event: error`', async () => {
    const r = await call('huge-event-anthropic', true, '/v1/messages');
    expect(r.status).toBe(200);
    const events = r.text.split('\n\n').filter(Boolean);
    const last = events[events.length - 1]!;
    expect(last).toMatch(/^event: error\n/);
    const data = JSON.parse(last.split('\n')[1]!.slice(6));
    expect(data).toMatchObject({ type: 'error', error: { type: 'api_error', message: expect.stringMatching(/SSE event larger than/) } });
    await rowOf(r.id);
    await noHoldsLeft();
  });

  it('malformed SSE events are passed over and the stream completes with the usage the upstream reported', async () => {
    const r = await call('malformed-sse', true);
    expect(r.status).toBe(200);
    expect(r.text).toContain('data: [DONE]');
    const row = await rowOf(r.id);
    expect(row).toMatchObject({ status: 200, prompt_tokens: 5, completion_tokens: 2, usage_source: 'provider' });
    await noHoldsLeft();
  });

  it('a body beyond maxUpstreamBodyBytes is abandoned: 502 in the OpenAI shape, recorded, memory bounded', async () => {
    const t0 = Date.now();
    const r = await call('giant-body', false);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.status).toBe(502);
    const body = JSON.parse(r.text);
    expect(isProtocolError(body, 'openai')).toBe(true);
    expect(body.error.message).toMatch(/larger than 16777216 bytes/);
    const row = await rowOf(r.id);
    expect(row.status).toBe(502);
    await noHoldsLeft();
  });

  it('an upstream 401 that quotes the provider key reaches the client with the key redacted, and the operator is told', async () => {
    const r = await call('echo-key-401', false);
    expect(r.status).toBe(401);
    expect(isProtocolError(JSON.parse(r.text), 'openai')).toBe(true);
    expect(r.text).not.toContain(PROVIDER_KEY);
    expect(r.text).toContain('[redacted]');
    expect((await rowOf(r.id)).status).toBe(401);
    // The log line crosses a worker thread and the child's stdout pipe: it can land after the
    // client's answer on a loaded machine, so wait for it (the deadline only catches a missing line).
    const told = /"provider":"echo-key-401","status":401,"msg":"provider refused its credentials"/;
    for (const end = Date.now() + 10_000; Date.now() < end && !told.test(tg.logs()); ) await sleep(50);
    expect(tg.logs()).toMatch(told);
  });

  it('an upstream error body that quotes the provider key is passed on with the key redacted', async () => {
    const r = await call('echo-key-400', false);
    expect(r.status).toBe(400);
    expect(r.text).not.toContain(PROVIDER_KEY);
    expect(r.text).toContain('[redacted]');
  });

  it('the process is still serving, and no log line carries the provider key', async () => {
    expect(tg.proc.exitCode).toBeNull();
    expect((await fetch(`${tg.url}/healthz`)).status).toBe(200);
    expect(tg.logs()).not.toContain(PROVIDER_KEY);
  });
});
