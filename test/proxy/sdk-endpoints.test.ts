import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { ANTHROPIC_UPSTREAM_KEY, CUSTOMER_KEY, OPENAI_UPSTREAM_KEY, expectedCostUsd, providers } from '../helpers/fixtures.js';

// The official SDKs, changed only in base URL, against the real proxy
// process in front of the mock upstream; every row is priced exactly.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
let openai: OpenAI;
let anthropic: Anthropic;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 12 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK });
  openai = new OpenAI({ apiKey: CUSTOMER_KEY, baseURL: `${tg.url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: CUSTOMER_KEY, baseURL: tg.url, maxRetries: 0 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

async function rowFor(requestId: string) {
  const { rows } = await tg.admin(`/admin/usage?customer=acme&limit=100000`);
  const row = rows.find((r: any) => r.request_id === requestId);
  expect(row, `usage row for ${requestId}`).toBeDefined();
  return row;
}

describe('OpenAI SDK through the proxy', () => {
  it('chat completion: answers, records the row and prices it at list price', async () => {
    const { data, response } = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Say hello to the proxy please' }], max_tokens: 50 })
      .withResponse();
    expect(data.choices[0]!.message.content).toContain('tok0');
    const id = response.headers.get('x-tollgate-request-id')!;
    expect(id).toMatch(/^req_/);
    const row = await rowFor(id);
    expect(row).toMatchObject({ customer: 'acme', model_requested: 'gpt-4o-mini', provider: 'openai', decision: 'allowed', status: 200, endpoint: '/v1/chat/completions' });
    expect(row.prompt_tokens).toBe(data.usage!.prompt_tokens);
    expect(row.completion_tokens).toBe(12);
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('gpt-4o-mini', { prompt: data.usage!.prompt_tokens, completion: 12 }), 12);
    expect(Number(response.headers.get('x-tollgate-cost'))).toBeCloseTo(row.cost_usd, 9);
    expect(response.headers.get('x-tollgate-budget-remaining')).toMatch(/^99\.99\d* USD$/);
  });

  it('chat stream: relays every chunk, hides the usage chunk it asked for, and charges the streamed usage', async () => {
    const { data: stream, response } = await openai.chat.completions
      .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'stream it' }], stream: true, max_tokens: 50 })
      .withResponse();
    const chunks: any[] = [];
    for await (const c of stream) chunks.push(c);
    const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
    expect(text.trim().split(/\s+/)).toHaveLength(12);
    expect(chunks.some((c) => c.usage)).toBe(false);
    const row = await rowFor(response.headers.get('x-tollgate-request-id')!);
    expect(row.completion_tokens).toBe(12);
    expect(row.prompt_tokens).toBeGreaterThan(0);
    expect(row.usage_source).toBe('provider');
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('gpt-4o-mini', { prompt: row.prompt_tokens, completion: 12 }), 12);
  });

  it('chat stream with include_usage: the client gets the usage chunk too', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'with usage' }], stream: true, stream_options: { include_usage: true },
    });
    let usage: any;
    for await (const c of stream) if (c.usage) usage = c.usage;
    expect(usage.completion_tokens).toBe(12);
  });

  it('responses API, stream and not', async () => {
    const { data, response } = await openai.responses.create({ model: 'gpt-4o-mini', input: 'one two three' }).withResponse();
    expect(data.output_text).toContain('tok0');
    const row = await rowFor(response.headers.get('x-tollgate-request-id')!);
    expect(row.completion_tokens).toBe(data.usage!.output_tokens);
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('gpt-4o-mini', { prompt: data.usage!.input_tokens, completion: data.usage!.output_tokens }), 12);

    const stream = await openai.responses.create({ model: 'gpt-4o-mini', input: 'stream me', stream: true });
    let completed: any;
    for await (const ev of stream) if (ev.type === 'response.completed') completed = ev.response;
    expect(completed.usage.output_tokens).toBe(12);
  });

  it('embeddings', async () => {
    const { data, response } = await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'embed this text' }).withResponse();
    expect(data.data[0]!.embedding.length).toBeGreaterThan(0);
    const row = await rowFor(response.headers.get('x-tollgate-request-id')!);
    expect(row.prompt_tokens).toBe(data.usage.prompt_tokens);
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('text-embedding-3-small', { prompt: data.usage.prompt_tokens, completion: 0 }), 12);
  });

  it('lists models', async () => {
    const page = await openai.models.list();
    expect(Array.isArray(page.data)).toBe(true);
  });
});

describe('Anthropic SDK through the proxy', () => {
  it('messages: answers and prices cache reads and writes on Anthropic semantics', async () => {
    mock.setBehavior({ cachedTokens: 4, cacheWriteTokens: 2 });
    try {
      const { data, response } = await anthropic.messages
        .create({ model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'Hello there from the anthropic sdk' }] })
        .withResponse();
      expect(data.content[0]!.type).toBe('text');
      const row = await rowFor(response.headers.get('x-tollgate-request-id')!);
      const u = data.usage;
      expect(row.prompt_tokens).toBe(u.input_tokens + 4 + 2);
      expect(row.cached_tokens).toBe(4);
      expect(row.cache_write_tokens).toBe(2);
      expect(row.provider).toBe('anthropic');
      // cache writes at 1.25× input (the table's cache_write for claude-haiku-4-5)
      const p = (await import('../helpers/fixtures.js')).listPrice('claude-haiku-4-5') as any;
      const pico = u.input_tokens * p.input + 4 * p.cache_read + 2 * p.cache_write + u.output_tokens * p.output;
      expect(row.cost_usd).toBeCloseTo(pico / 1e12, 12);
    } finally {
      mock.setBehavior({ cachedTokens: 0, cacheWriteTokens: 0 });
    }
  });

  it('messages stream: events arrive in order and usage comes from message_start + message_delta', async () => {
    const stream = anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'stream please' }] });
    const final = await stream.finalMessage();
    expect(final.usage.output_tokens).toBe(12);
    const { response } = await stream.withResponse();
    const row = await rowFor(response.headers.get('x-tollgate-request-id')!);
    expect(row.completion_tokens).toBe(12);
    expect(row.prompt_tokens).toBe(final.usage.input_tokens);
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('claude-haiku-4-5', { prompt: final.usage.input_tokens, completion: 12 }), 12);
  });
});

describe('what the upstream sees', () => {
  it('gets the provider key, never the client key or Tollgate headers', async () => {
    await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-tollgate-tags': 'team=a' } });
    let h = mock.stats().lastHeaders;
    expect(h.authorization).toBe(`Bearer ${OPENAI_UPSTREAM_KEY}`);
    expect(JSON.stringify(h)).not.toContain(CUSTOMER_KEY);
    expect(h['x-tollgate-tags']).toBeUndefined();
    await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'hi' }] });
    h = mock.stats().lastHeaders;
    expect(h['x-api-key']).toBe(ANTHROPIC_UPSTREAM_KEY);
    expect(h['anthropic-version']).toBeTruthy();
    expect(JSON.stringify(h)).not.toContain(CUSTOMER_KEY);
  });
});
