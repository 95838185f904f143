import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers } from '../helpers/fixtures.js';
import { PATHS, type Path } from './scan-both.js';

// An upstream chat stream whose "model" and "usage" keys are spelled with
// escapes ({"us\u0061ge":…} is "usage" to JSON.parse), relayed by a Tollgate
// on each path (the stream watch's byte searches: native/src/sse_scan.cc and
// the JavaScript fallback). The client did not ask for usage: Tollgate asked
// for it on its behalf, so the usage chunk is read for the bill and not
// forwarded, and the model the stream named last is the row's, as when every
// event is parsed.

const head = '"id":"c1","object":"chat.completion.chunk","created":1';
const STREAM = [
  `data: {${head},"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"caf\\u00e9 \\"x\\":\\n"},"finish_reason":null}],"usage":null}\n\n`,
  `data: {${head},"mod\\u0065l":"gpt-4o-2024-08-06","choices":[{"index":0,"delta":{"content":"done"},"finish_reason":"stop"}],"usage":null}\n\n`,
  // No "model" here: a model other than the last one seen would have the event parsed for it.
  `data: {${head},"choices":[],"us\\u0061ge":{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}\n\n`,
  'data: [DONE]\n\n',
].join('');

// What the bytes cannot show otherwise (asked for with model gpt-4o): a second "model" after the known one (JSON.parse
// keeps the last), and the usage key split from its colon across data lines (the parse joins them).
const HIDDEN = [
  `data: {${head},"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"role":"assistant","content":"a"},"finish_reason":null}],"usage":null}\n\n`,
  `data: {${head},"model":"gpt-4o-mini","choices":[{"index":0,"delta":{"content":"b"},"finish_reason":"stop"}],"usage":null,"model":"gpt-4o-2024-08-06"}\n\n`,
  `data: {${head},"choices":[],"usage"\ndata: :{"prompt_tokens":11,"completion_tokens":7,"total_tokens":18}}\n\n`,
  'data: [DONE]\n\n',
].join('');

// A Messages stream whose last two events have no event: line and their type spelled with escapes: the tracker
// takes the type from the data (message_delta with the output count, then message_stop).
const MESSAGES = [
  `event: message_start\ndata: {"type":"message_start","message":{"id":"msg_1","type":"message","role":"assistant","model":"claude-haiku-4-5","content":[],"stop_reason":null,"stop_sequence":null,"usage":{"input_tokens":12,"output_tokens":1}}}\n\n`,
  `event: content_block_start\ndata: {"type":"content_block_start","index":0,"content_block":{"type":"text","text":""}}\n\n`,
  `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"caf\\u00e9\\n"}}\n\n`,
  `event: content_block_stop\ndata: {"type":"content_block_stop","index":0}\n\n`,
  `data: {"type":"message\\u005fdelta","delta":{"stop_reason":"end_turn","stop_sequence":null},"usage":{"output_tokens":9}}\n\n`,
  `data: {"type":"message\\u005fstop"}\n\n`,
].join('');

let upstream: Server;
const sent: unknown[] = [];
const tg: Partial<Record<Path, Tollgate>> = {};

beforeAll(async () => {
  upstream = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const j = JSON.parse(body);
      sent.push(j);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.end(req.url?.endsWith('/messages') ? MESSAGES : j.model === 'gpt-4o' ? HIDDEN : STREAM);
    });
  });
  await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
  const base = `http://127.0.0.1:${(upstream.address() as { port: number }).port}`;
  const config = { providers: providers(base), customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }], shards: 1 };
  for (const path of PATHS) tg[path] = await startTollgate(config, { clockStart: TEST_CLOCK, env: { TOLLGATE_NATIVE: path === 'native' ? '1' : '0' } });
});

afterAll(async () => {
  for (const t of Object.values(tg)) await t?.stop();
  await new Promise((r) => upstream?.close(r));
});

const post = (t: Tollgate, route: string, body: unknown) =>
  fetch(`${t.url}${route}`, { method: 'POST', headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

// The chat streams (the model the client asks for picks one), what the client must not see of it, and what it must.
const CHATS = [
  ['keys spelled with escapes', 'gpt-4o-mini', 'us\\u0061ge', 'caf\\u00e9'],
  ['a second "model" and the usage split across lines', 'gpt-4o', '"usage"\ndata: :', 'data: [DONE]'],
] as const;

describe.each(PATHS)('streams whose bytes hide what the tracker reads, relayed on the %s path', (path) => {
  // max_tokens: a hold that need not grow, so the JavaScript path relays through the watch too; without it the hold
  // may grow, which the native watch follows and the JavaScript path leaves to the tracker (stream-relay.ts).
  describe.each(CHATS)('chat, %s', (_, model, hidden, shown) => {
    it.each([100, undefined])('keeps the usage chunk from a client that did not ask for it, and bills its usage and the model named last (max_tokens %s)', async (maxTokens) => {
      const t = tg[path]!;
      const r = await post(t, '/v1/chat/completions', { model, stream: true, max_tokens: maxTokens, messages: [{ role: 'user', content: 'hi' }] });
      expect(r.status).toBe(200);
      const text = await r.text();
      expect((sent.at(-1) as { stream_options?: unknown }).stream_options).toEqual({ include_usage: true }); // asked for on the client's behalf
      expect(text).not.toContain(hidden);
      expect(text).toContain(shown);
      expect(text).toContain('data: [DONE]');
      const row = await t.usageRow('acme', r.headers.get('x-tollgate-request-id')!);
      expect(row).toMatchObject({ model: 'gpt-4o-2024-08-06', prompt_tokens: 11, completion_tokens: 7, usage_source: 'provider' });
    });
  });

  it('messages: reads the escaped message_delta and message_stop of events with no event: line', async () => {
    const t = tg[path]!;
    const r = await post(t, '/v1/messages', { model: 'claude-haiku-4-5', stream: true, max_tokens: 100, messages: [{ role: 'user', content: 'hi' }] });
    expect(r.status).toBe(200);
    const text = await r.text();
    expect(text).toContain('message\\u005fstop');
    const row = await t.usageRow('acme', r.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ model: 'claude-haiku-4-5', prompt_tokens: 12, completion_tokens: 9, usage_source: 'provider' });
  });
});
