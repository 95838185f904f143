import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { get_encoding } from '@dqbd/tiktoken';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';

// A runaway answer whose HTTP chunks (one SSE event each) all arrive in the
// same socket reads: the upstream writes the whole answer, 2,000 chunks, in
// one write, against a 500-token budget and no max_tokens. The relay takes
// all that has arrived at once and scans it together, but a growing hold
// checks the output, and cuts, at the end of each upstream chunk; this
// attacks that: the spend may pass the limit by at most the chunk that
// crossed it (one event here), not by the hundreds of events read with it,
// and the client gets no text past that event.

const LIMIT = 500;
const WORDS = 2000;
/** One event is one word ("tok123 "): a few tokens; a count of text split at event edges may add one per event. */
const ONE_EVENT = 8;

let upstream: Server;
let tg: Tollgate;

function event(i: number): string {
  const delta = i === 0 ? { role: 'assistant', content: '' } : { content: `tok${i} ` };
  return `data: ${JSON.stringify({ id: 'chatcmpl-reads', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini', choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] })}\n\n`;
}

const chunk = (s: string) => `${Buffer.byteLength(s).toString(16)}\r\n${s}\r\n`;

/** The whole chunked answer, one HTTP chunk per event, for one socket write. */
function wholeAnswer(): string {
  let out = 'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\ntransfer-encoding: chunked\r\nconnection: close\r\n\r\n';
  for (let i = 0; i < WORDS; i++) out += chunk(event(i));
  out += chunk(`data: ${JSON.stringify({ id: 'chatcmpl-reads', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini', choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] })}\n\n`);
  out += chunk('data: [DONE]\n\n');
  return `${out}0\r\n\r\n`;
}

/** Answers once the request's head and body (content-length) are in. */
function serve(socket: Socket): void {
  let got = Buffer.alloc(0);
  socket.on('error', () => {});
  socket.on('data', (d) => {
    got = Buffer.concat([got, d]);
    const head = got.indexOf('\r\n\r\n');
    if (head < 0) return;
    const length = Number(/content-length:\s*(\d+)/i.exec(got.subarray(0, head).toString('latin1'))?.[1] ?? 0);
    if (got.length < head + 4 + length) return;
    socket.removeAllListeners('data');
    socket.end(wholeAnswer());
  });
}

beforeAll(async () => {
  upstream = createServer(serve);
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  tg = await startTollgate({
    providers: providers(url),
    routes: [{ model: 'gpt-4o-mini', targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] }],
    customers: [{ id: 'reads', keys: ['tg-reads-key-1'], budgets: [{ limit: LIMIT, unit: 'tokens', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await new Promise((resolve) => upstream?.close(resolve));
});

describe('a runaway stream whose upstream chunks arrive hundreds to a read', () => {
  it('is cut at the edge of the chunk that passed the budget, and billed no chunk after it', async () => {
    const openai = new OpenAI({ apiKey: 'tg-reads-key-1', baseURL: `${tg.url}/v1`, maxRetries: 0 });
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'write a very long story' }], stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? '';
      finish = c.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('length');
    const [row] = (await tg.admin('/admin/usage?customer=reads&limit=10')).rows;
    expect(row.reason).toMatch(/^budget_cut/);
    const enc = get_encoding('o200k_base');
    const relayed = enc.encode(text).length;
    enc.free();
    expect(row.prompt_tokens + relayed).toBeLessThanOrEqual(LIMIT + ONE_EVENT);
    expect(relayed).toBeGreaterThan(LIMIT / 2);
    // Billed through the chunk that crossed the budget: the events read with it, after it, are not billed.
    const used = (await tg.admin('/admin/customers/reads')).budgets[0].used;
    expect(used).toBeLessThanOrEqual(LIMIT + ONE_EVENT);
    expect(used).toBeGreaterThan(LIMIT * 0.8);
    expect(row.completion_tokens).toBeGreaterThanOrEqual(relayed);
  });
});
