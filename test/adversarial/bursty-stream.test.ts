import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { get_encoding } from '@dqbd/tiktoken';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';

// A runaway answer from an upstream that sends its events in bursts: 25 SSE
// events per HTTP chunk (one socket write each), 2,000 words in all, against
// a 500-token budget and no max_tokens. The relay passes over the events of
// a chunk that cannot bring the output near the hold without looking at each
// (stream-watch.ts skip(), with the hold's room); this attacks that step: the
// client must get no text past the event whose output passed what the budget
// could hold, and the spend may pass the limit by at most what arrived in the
// same upstream read (one burst), the bound stream-hold.ts documents.

const LIMIT = 500;
const BURST = 25;
const WORDS = 2000;
/** One event is one word ("tok123 "): a few tokens; a count of text split at event edges may add one per event. */
const ONE_EVENT = 8;

let upstream: Server;
let upstreamUrl: string;
let tg: Tollgate;

function event(i: number): string {
  const delta = i === 0 ? { role: 'assistant', content: '' } : { content: `tok${i} ` };
  return `data: ${JSON.stringify({ id: 'chatcmpl-burst', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini', choices: [{ index: 0, delta, logprobs: null, finish_reason: null }] })}\n\n`;
}

beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8' });
      let i = 0;
      let closed = false;
      res.on('close', () => (closed = true));
      const burst = () => {
        if (closed) return;
        if (i >= WORDS) {
          res.end(`data: ${JSON.stringify({ id: 'chatcmpl-burst', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini', choices: [{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }] })}\n\ndata: [DONE]\n\n`);
          return;
        }
        let out = '';
        for (let k = 0; k < BURST && i < WORDS; k++) out += event(i++);
        res.write(out);
        setTimeout(burst, 10);
      };
      burst();
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  tg = await startTollgate({
    providers: providers(upstreamUrl),
    routes: [{ model: 'gpt-4o-mini', targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] }],
    customers: [{ id: 'bursty', keys: ['tg-bursty-key-1'], budgets: [{ limit: LIMIT, unit: 'tokens', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await new Promise((resolve) => upstream?.close(resolve));
});

describe('a runaway stream whose upstream sends its events in bursts', () => {
  it('relays no text past the event that passed the budget, and overshoots by at most one burst', async () => {
    const openai = new OpenAI({ apiKey: 'tg-bursty-key-1', baseURL: `${tg.url}/v1`, maxRetries: 0 });
    const stream = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'write a very long story' }], stream: true });
    let text = '';
    let finish: string | null = null;
    const ids = new Set<string>();
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
      ids.add(chunk.id);
    }
    expect(finish).toBe('length');
    // The ending we write carries the upstream's id (read from events the watch passed over).
    expect([...ids]).toEqual(['chatcmpl-burst']);
    const [row] = (await tg.admin('/admin/usage?customer=bursty&limit=10')).rows;
    expect(row.reason).toMatch(/^budget_cut/);
    const enc = get_encoding('o200k_base');
    const relayed = enc.encode(text).length;
    enc.free();
    // What the client got passed what the budget could hold by at most the one event that crossed it.
    expect(row.prompt_tokens + relayed).toBeLessThanOrEqual(LIMIT + ONE_EVENT);
    expect(relayed).toBeGreaterThan(LIMIT / 2);
    // Billed: all that arrived in the read that crossed it (one burst), never more.
    const used = (await tg.admin('/admin/customers/bursty')).budgets[0].used;
    expect(used).toBeLessThanOrEqual(LIMIT + BURST * ONE_EVENT);
    expect(used).toBeGreaterThan(LIMIT * 0.9);
    expect(row.completion_tokens).toBeGreaterThanOrEqual(relayed);
  });
});
