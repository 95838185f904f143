import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, expectedCostUsd } from '../helpers/fixtures.js';
import { anthropicProvider, customer, openaiProvider, storedRows } from './helpers.js';

// Each SDK, changed only in base URL, on a route whose only target speaks
// the other protocol. The mock answers in the target's protocol; the SDK
// must see its own; the row is priced at the model that answered.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let down: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
let openai: OpenAI;
let anthropic: Anthropic;

const weather = {
  type: 'function' as const,
  function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } },
};
const weatherTool = { name: 'get_weather', description: 'Weather in a city', input_schema: { type: 'object' as const, properties: { city: { type: 'string' } }, required: ['city'] } };

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 12 });
  down = await startMockUpstream({ fail: '503' });
  tg = await startTollgate({
    providers: [openaiProvider('openai', mock.url), anthropicProvider('anthropic', mock.url), openaiProvider('openai-down', down.url)],
    routes: [
      { model: 'claude-only', targets: [{ provider: 'anthropic', model: 'claude-haiku-4-5' }] },
      { model: 'gpt-only', targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] },
      { model: 'gpt-then-claude', targets: [
        { provider: 'openai-down', model: 'gpt-4o-mini', breaker: { failures: 1000, cooldown: '1s' } },
        { provider: 'anthropic', model: 'claude-haiku-4-5', priority: 1 },
      ] },
    ],
    customers: [customer],
  }, { clockStart: TEST_CLOCK, shards: 2 });
  openai = new OpenAI({ apiKey: CUSTOMER_KEY, baseURL: `${tg.url}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: CUSTOMER_KEY, baseURL: tg.url, maxRetries: 0 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
  await down?.close();
});

beforeEach(() => mock.reset());

async function rowFor(requestId: string) {
  const { rows } = await tg.admin('/admin/usage?customer=acme&limit=100000');
  const row = rows.find((r: any) => r.request_id === requestId);
  expect(row, `usage row for ${requestId}`).toBeDefined();
  return row;
}

describe('the OpenAI SDK on a route whose only target is Anthropic', () => {
  it('chat completion: an Anthropic messages call upstream, an OpenAI answer back, priced at the Claude model', async () => {
    const { data, response } = await openai.chat.completions.create({
      model: 'claude-only',
      messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Say hello across protocols' }],
      max_tokens: 50, temperature: 1.5, stop: ['never'],
    }).withResponse();
    expect(data.object).toBe('chat.completion');
    expect(data.choices[0]!.message.content).toMatch(/^tok0 tok1/);
    expect(data.choices[0]!.finish_reason).toBe('stop');
    expect(data.usage!.completion_tokens).toBe(12);
    const up = mock.stats();
    expect(up.byPath).toEqual({ '/v1/messages': 1 });
    expect(up.lastHeaders['x-api-key']).toBe('sk-anthropic');
    expect(up.lastBody).toMatchObject({ model: 'claude-haiku-4-5', system: 'Be terse.', max_tokens: 50, temperature: 1, stop_sequences: ['never'] });
    const row = await rowFor(response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ provider: 'anthropic', model: 'claude-haiku-4-5', model_requested: 'claude-only', completion_tokens: 12, status: 200 });
    expect(row.prompt_tokens).toBe(data.usage!.prompt_tokens);
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('claude-haiku-4-5', { prompt: row.prompt_tokens, completion: 12 }), 12);
    expect(Number(response.headers.get('x-tollgate-cost'))).toBeCloseTo(row.cost_usd, 9);
  });

  it('chat stream with usage: OpenAI chunks from an Anthropic event stream', async () => {
    const { data: stream, response } = await openai.chat.completions.create({
      model: 'claude-only', messages: [{ role: 'user', content: 'stream across' }], stream: true, stream_options: { include_usage: true },
    }).withResponse();
    let text = '';
    let usage: any;
    let finish: string | null = null;
    for await (const c of stream) {
      text += c.choices[0]?.delta?.content ?? '';
      if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
      if (c.usage) usage = c.usage;
    }
    expect(text.trim().split(/\s+/)).toHaveLength(12);
    expect(finish).toBe('stop');
    expect(usage.completion_tokens).toBe(12);
    const row = await rowFor(response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ provider: 'anthropic', model: 'claude-haiku-4-5', completion_tokens: 12, usage_source: 'provider' });
    expect(row.prompt_tokens).toBe(usage.prompt_tokens);
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('claude-haiku-4-5', { prompt: row.prompt_tokens, completion: 12 }), 12);
  });

  it('tool calls, whole and streamed, with the tool result sent back', async () => {
    const first = await openai.chat.completions.create({
      model: 'claude-only', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weather], tool_choice: 'auto',
    });
    const call = first.choices[0]!.message.tool_calls![0]! as any;
    expect(first.choices[0]!.finish_reason).toBe('tool_calls');
    expect(call.function.name).toBe('get_weather');
    expect(JSON.parse(call.function.arguments)).toEqual({ x: 1 });
    expect(mock.stats().lastBody.tools).toEqual([{ name: 'get_weather', description: 'Weather in a city', input_schema: weather.function.parameters }]);

    // The tool answer goes back; the mock answers text when tool_choice is none.
    const second = await openai.chat.completions.create({
      model: 'claude-only', tools: [weather], tool_choice: 'none',
      messages: [{ role: 'user', content: 'Weather in Paris?' }, first.choices[0]!.message, { role: 'tool', tool_call_id: call.id, content: '18C and sunny' }],
    });
    expect(second.choices[0]!.message.content).toMatch(/^tok0/);
    const sent = mock.stats().lastBody;
    expect(sent.messages[1]).toEqual({ role: 'assistant', content: [{ type: 'tool_use', id: call.id, name: 'get_weather', input: { x: 1 } }] });
    expect(sent.messages[2]).toEqual({ role: 'user', content: [{ type: 'tool_result', tool_use_id: call.id, content: '18C and sunny' }] });

    const stream = await openai.chat.completions.create({
      model: 'claude-only', messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weather], stream: true,
    });
    let args = '';
    let name = '';
    let finish: string | null = null;
    for await (const c of stream) {
      for (const t of c.choices[0]?.delta?.tool_calls ?? []) {
        if (t.function?.name) name = t.function.name;
        args += t.function?.arguments ?? '';
      }
      if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    }
    expect(name).toBe('get_weather');
    expect(JSON.parse(args)).toEqual({ x: 1 });
    expect(finish).toBe('tool_calls');
  });

  it('falls back from a failing OpenAI target to an Anthropic one without the client noticing', async () => {
    const { data, response } = await openai.chat.completions.create({ model: 'gpt-then-claude', messages: [{ role: 'user', content: 'hi' }], max_tokens: 20 }).withResponse();
    expect(data.choices[0]!.message.content).toMatch(/^tok0/);
    const row = await rowFor(response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ provider: 'anthropic', model: 'claude-haiku-4-5', reason: 'fallback: openai-down/gpt-4o-mini: HTTP 503' });
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('claude-haiku-4-5', { prompt: row.prompt_tokens, completion: row.completion_tokens }), 12);
    const stored = storedRows(tg.dataDir).find((x) => x.request_id === row.request_id);
    expect(stored.attempts).toEqual([{ target: 'openai-down/gpt-4o-mini', error: 'HTTP 503' }]);
  });
});

describe('the Anthropic SDK on a route whose only target is OpenAI', () => {
  it('messages: an OpenAI chat call upstream, an Anthropic answer back, priced at the GPT model', async () => {
    const { data, response } = await anthropic.messages.create({
      model: 'gpt-only', max_tokens: 40, system: 'Be terse.', messages: [{ role: 'user', content: 'Hello across protocols' }], stop_sequences: ['never'],
    }).withResponse();
    expect(data.type).toBe('message');
    expect(data.content[0]).toMatchObject({ type: 'text' });
    expect((data.content[0] as any).text).toMatch(/^tok0 tok1/);
    expect(data.stop_reason).toBe('end_turn');
    expect(data.usage.output_tokens).toBe(12);
    const up = mock.stats();
    expect(up.byPath).toEqual({ '/v1/chat/completions': 1 });
    expect(up.lastHeaders.authorization).toBe('Bearer sk-openai');
    expect(up.lastBody).toMatchObject({ model: 'gpt-4o-mini', max_tokens: 40, stop: ['never'], messages: [{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'Hello across protocols' }] });
    const row = await rowFor(response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ provider: 'openai', model: 'gpt-4o-mini', model_requested: 'gpt-only', completion_tokens: 12 });
    expect(row.prompt_tokens).toBe(data.usage.input_tokens);
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('gpt-4o-mini', { prompt: row.prompt_tokens, completion: 12 }), 12);
  });

  it('messages stream: the stream helper assembles the message and its usage from translated events', async () => {
    const stream = anthropic.messages.stream({ model: 'gpt-only', max_tokens: 40, messages: [{ role: 'user', content: 'stream across please' }] });
    const final = await stream.finalMessage();
    expect((final.content[0] as any).text.trim().split(/\s+/)).toHaveLength(12);
    expect(final.stop_reason).toBe('end_turn');
    expect(final.usage.output_tokens).toBe(12);
    const { response } = await stream.withResponse();
    const row = await rowFor(response.headers.get('x-tollgate-request-id')!);
    expect(row).toMatchObject({ provider: 'openai', model: 'gpt-4o-mini', completion_tokens: 12, usage_source: 'provider' });
    expect(final.usage.input_tokens).toBe(row.prompt_tokens);
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('gpt-4o-mini', { prompt: row.prompt_tokens, completion: 12 }), 12);
  });

  it('tool use, whole and streamed, with the tool result sent back', async () => {
    const first = await anthropic.messages.create({ model: 'gpt-only', max_tokens: 40, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weatherTool] });
    expect(first.stop_reason).toBe('tool_use');
    const use = first.content.find((b) => b.type === 'tool_use') as any;
    expect(use).toMatchObject({ name: 'get_weather', input: { x: 1 } });
    expect(mock.stats().lastBody.tools).toEqual([weather]);

    const second = await anthropic.messages.create({
      model: 'gpt-only', max_tokens: 40, tools: [weatherTool], tool_choice: { type: 'none' },
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: first.content },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: use.id, content: '18C and sunny' }] },
      ],
    });
    expect((second.content[0] as any).text).toMatch(/^tok0/);
    const sent = mock.stats().lastBody;
    expect(sent.messages[1]).toEqual({ role: 'assistant', content: null, tool_calls: [{ id: use.id, type: 'function', function: { name: 'get_weather', arguments: '{"x":1}' } }] });
    expect(sent.messages[2]).toEqual({ role: 'tool', tool_call_id: use.id, content: '18C and sunny' });

    const stream = anthropic.messages.stream({ model: 'gpt-only', max_tokens: 40, messages: [{ role: 'user', content: 'Weather in Paris?' }], tools: [weatherTool] });
    const final = await stream.finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content.find((b) => b.type === 'tool_use')).toMatchObject({ type: 'tool_use', name: 'get_weather', input: { x: 1 } });
  });
});
