// Proves the official `openai` and `@anthropic-ai/sdk` clients work directly
// against bench/mock-upstream.mjs, and that its behaviours are as documented.
import { describe, it, expect, beforeAll, afterAll, beforeEach } from 'vitest';
import { spawn } from 'node:child_process';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
// @ts-ignore -- plain JS module without type declarations
import { startMockUpstream, computePromptTokens } from '../../bench/mock-upstream.mjs';

type Mock = Awaited<ReturnType<typeof startMockUpstream>>;

const MOCK_PATH = fileURLToPath(new URL('../../bench/mock-upstream.mjs', import.meta.url));

function words(n: number, from = 0): string {
  const out: string[] = [];
  for (let i = from; i < from + n; i++) out.push('tok' + i);
  return out.join(' ');
}
const ceil4 = (s: string) => Math.ceil(s.length / 4);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let mock: Mock;
let openai: OpenAI;
let anthropic: Anthropic;

function oa(extra: Record<string, unknown> = {}) {
  return new OpenAI({ apiKey: 'sk-test', baseURL: mock.url + '/v1', maxRetries: 0, ...extra });
}
function an(extra: Record<string, unknown> = {}) {
  return new Anthropic({ apiKey: 'sk-ant-test', baseURL: mock.url, maxRetries: 0, ...extra });
}

async function rawSSE(path: string, body: unknown, headers: Record<string, string> = {}) {
  const r = await fetch(mock.url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  return { status: r.status, headers: r.headers, text: await r.text() };
}

function parseSSE(text: string): { event: string | null; data: string }[] {
  const out: { event: string | null; data: string }[] = [];
  for (const block of text.split('\n\n')) {
    if (!block.trim()) continue;
    let event: string | null = null;
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
    }
    out.push({ event, data: data.join('\n') });
  }
  return out;
}

const USER_MSG = 'Hello, how are you today?'; // 25 chars -> 7 tokens

beforeAll(async () => {
  mock = await startMockUpstream({ port: 0 });
  openai = oa();
  anthropic = an();
});
afterAll(async () => {
  await mock?.close();
});
beforeEach(() => {
  mock.reset();
});

describe('startup', () => {
  it('listens on 127.0.0.1 with a real port', () => {
    expect(mock.port).toBeGreaterThan(0);
    expect(mock.url).toBe(`http://127.0.0.1:${mock.port}`);
  });

  it('refuses a port that is already taken (exclusive listen)', async () => {
    await expect(startMockUpstream({ port: mock.port })).rejects.toThrow(/cannot listen/);
  });

  it('rejects invalid behaviour', async () => {
    expect(() => mock.setBehavior({ fail: 'explode' })).toThrow(TypeError);
    expect(() => mock.setBehavior({ latency: 5 })).toThrow(/unknown behavior option/);
    expect(() => mock.setBehavior({ completionTokens: -1 })).toThrow(TypeError);
    await expect(startMockUpstream({ port: 0, nope: 1 })).rejects.toThrow(TypeError);
  });

  it('close() ends requests that are still pending and stops serving', async () => {
    const m2 = await startMockUpstream({ port: 0, fail: 'timeout' });
    const c = new OpenAI({ apiKey: 'x', baseURL: m2.url + '/v1', maxRetries: 0 });
    const p = c.chat.completions.create({ model: 'm', messages: [] }).catch((e) => e);
    for (let i = 0; i < 100 && m2.stats().inFlight < 1; i++) await sleep(5);
    expect(m2.stats().inFlight).toBe(1);
    await m2.close();
    expect(await p).toBeInstanceOf(OpenAI.APIConnectionError);
    expect(m2.stats()).toMatchObject({ inFlight: 0, aborted: 0 });
    await expect(fetch(m2.url + '/v1/models')).rejects.toThrow();
  });

  it('CLI prints the listening line and serves', async () => {
    const child = spawn(process.execPath, [MOCK_PATH, '--port', '0', '--completion-tokens', '3', '--latency', '0', '--chunk-delay', '0'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      const line: string = await new Promise((resolve, reject) => {
        let buf = '';
        child.stdout.on('data', (d) => {
          buf += d;
          const i = buf.indexOf('\n');
          if (i >= 0) resolve(buf.slice(0, i));
        });
        child.on('exit', (code) => reject(new Error('exited ' + code)));
        setTimeout(() => reject(new Error('no output')), 5000);
      });
      const m = /^mock upstream listening on (http:\/\/127\.0\.0\.1:(\d+))$/.exec(line);
      expect(m).not.toBeNull();
      expect(Number(m![2])).toBeGreaterThan(0);
      const c = new OpenAI({ apiKey: 'x', baseURL: m![1] + '/v1', maxRetries: 0 });
      const r = await c.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'hi' }] });
      expect(r.choices[0].message.content).toBe('tok0 tok1 tok2');
    } finally {
      child.kill('SIGTERM');
    }
  });
});

describe('OpenAI chat completions', () => {
  it('non-stream: text, model echo, usage, finish_reason', async () => {
    mock.setBehavior({ cachedTokens: 2 });
    const r = await openai.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: USER_MSG }] });
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe('gpt-4o-mini');
    expect(r.choices[0].message.role).toBe('assistant');
    expect(r.choices[0].message.content).toBe(words(16));
    expect(r.choices[0].finish_reason).toBe('stop');
    expect(r.usage).toMatchObject({
      prompt_tokens: 7,
      completion_tokens: 16,
      total_tokens: 23,
      prompt_tokens_details: { cached_tokens: 2 },
    });
  });

  it('caps the answer with max_tokens / max_completion_tokens (finish_reason length)', async () => {
    const r = await openai.chat.completions.create({ model: 'm', max_tokens: 5, messages: [{ role: 'user', content: 'x' }] });
    expect(r.choices[0].message.content).toBe(words(5));
    expect(r.choices[0].finish_reason).toBe('length');
    expect(r.usage?.completion_tokens).toBe(5);
    const r2 = await openai.chat.completions.create({ model: 'm', max_completion_tokens: 3, max_tokens: 9, messages: [{ role: 'user', content: 'x' }] });
    expect(r2.choices[0].message.content).toBe(words(3));
  });

  it('stream with include_usage: role chunk, one word per chunk, finish chunk, usage chunk', async () => {
    mock.setBehavior({ completionTokens: 6, cachedTokens: 1 });
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'system', content: 'abcd' }, { role: 'user', content: USER_MSG }],
    });
    const chunks: OpenAI.Chat.Completions.ChatCompletionChunk[] = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.model === 'gpt-4o')).toBe(true);
    expect(chunks[0].choices[0].delta.role).toBe('assistant');
    const contents = chunks.filter((c) => c.choices[0]?.delta?.content).map((c) => c.choices[0].delta.content);
    expect(contents).toEqual(['tok0', ' tok1', ' tok2', ' tok3', ' tok4', ' tok5']);
    const finish = chunks.filter((c) => c.choices[0]?.finish_reason);
    expect(finish).toHaveLength(1);
    expect(finish[0].choices[0].finish_reason).toBe('stop');
    const last = chunks[chunks.length - 1];
    expect(last.choices).toEqual([]);
    expect(last.usage).toMatchObject({ prompt_tokens: Math.ceil((4 + 25) / 4), completion_tokens: 6, total_tokens: 8 + 6, prompt_tokens_details: { cached_tokens: 1 } });
  });

  it('stream without include_usage has no usage chunk and ends with [DONE]', async () => {
    const { text, headers } = await rawSSE('/v1/chat/completions', { model: 'm', stream: true, messages: [{ role: 'user', content: 'x' }] });
    expect(headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    expect(text).not.toContain('"usage"');
    const events = parseSSE(text);
    expect(events.every((e) => e.event === null)).toBe(true);
    expect(events).toHaveLength(1 + 16 + 1 + 1); // role, words, finish, [DONE]
  });

  it('the SDK stream helper accumulates the final completion', async () => {
    const s = openai.chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: 'x' }], stream_options: { include_usage: true } });
    const final = await s.finalChatCompletion();
    expect(final.choices[0].message.content).toBe(words(16));
    expect(final.usage?.completion_tokens).toBe(16);
  });
});

describe('OpenAI responses', () => {
  it('non-stream: response object with output_text and usage', async () => {
    mock.setBehavior({ cachedTokens: 3 });
    const r = await openai.responses.create({ model: 'gpt-4.1-mini', instructions: 'Be brief', input: USER_MSG });
    expect(r.object).toBe('response');
    expect(r.status).toBe('completed');
    expect(r.model).toBe('gpt-4.1-mini');
    expect(r.output_text).toBe(words(16));
    expect(r.output[0]).toMatchObject({ type: 'message', role: 'assistant', content: [{ type: 'output_text', text: words(16), annotations: [] }] });
    const P = Math.ceil(('Be brief'.length + USER_MSG.length) / 4);
    expect(r.usage).toEqual({
      input_tokens: P,
      input_tokens_details: { cached_tokens: 3 },
      output_tokens: 16,
      output_tokens_details: { reasoning_tokens: 0 },
      total_tokens: P + 16,
    });
  });

  it('stream: event lines, sequence numbers, deltas and response.completed with usage', async () => {
    mock.setBehavior({ completionTokens: 4 });
    const stream = await openai.responses.create({ model: 'gpt-4o', input: [{ role: 'user', content: [{ type: 'input_text', text: 'abcdefgh' }] }], stream: true });
    const events: any[] = [];
    for await (const e of stream) events.push(e);
    const types = events.map((e) => e.type);
    expect(types[0]).toBe('response.created');
    expect(types[types.length - 1]).toBe('response.completed');
    expect(events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta)).toEqual(['tok0', ' tok1', ' tok2', ' tok3']);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    const done = events[events.length - 1].response;
    expect(done.status).toBe('completed');
    expect(done.usage).toMatchObject({ input_tokens: 2, output_tokens: 4, total_tokens: 6 });
    // raw wire: every data line is preceded by a matching `event:` line
    const { text } = await rawSSE('/v1/responses', { model: 'gpt-4o', input: 'x', stream: true });
    for (const e of parseSSE(text)) expect(JSON.parse(e.data).type).toBe(e.event);
  });

  it('stream helper yields the final response', async () => {
    const s = openai.responses.stream({ model: 'gpt-4o', input: 'hello' });
    const final = await s.finalResponse();
    expect(final.output_text).toBe(words(16));
    expect(final.usage?.output_tokens).toBe(16);
  });

  it('max_output_tokens truncates like the real API (status incomplete)', async () => {
    const r = await openai.responses.create({ model: 'm', input: 'x', max_output_tokens: 2 });
    expect(r.output_text).toBe(words(2));
    expect(r.status).toBe('incomplete');
    expect(r.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    const { text } = await rawSSE('/v1/responses', { model: 'm', input: 'x', stream: true, max_output_tokens: 2 });
    const evs = parseSSE(text);
    expect(evs[evs.length - 1].event).toBe('response.incomplete');
    expect(JSON.parse(evs[evs.length - 1].data).response.usage.output_tokens).toBe(2);
  });
});

describe('OpenAI embeddings and models', () => {
  it('embeddings: default base64 (SDK-decoded) equals float format, 8 dims, usage', async () => {
    const input = ['hello world', 'second input'];
    const b = await openai.embeddings.create({ model: 'text-embedding-3-small', input });
    const f = await openai.embeddings.create({ model: 'text-embedding-3-small', input, encoding_format: 'float' });
    expect(mock.stats().lastBody.encoding_format).toBe('float');
    expect(b.object).toBe('list');
    expect(b.model).toBe('text-embedding-3-small');
    expect(b.data).toHaveLength(2);
    expect(b.data[1].index).toBe(1);
    for (let i = 0; i < 2; i++) {
      expect(b.data[i].embedding).toHaveLength(8);
      expect(Array.from(b.data[i].embedding)).toEqual(f.data[i].embedding);
    }
    expect(b.data[0].embedding).not.toEqual(b.data[1].embedding);
    expect(b.usage).toEqual({ prompt_tokens: Math.ceil(23 / 4), total_tokens: Math.ceil(23 / 4) });
    // deterministic
    const again = await openai.embeddings.create({ model: 'x', input: 'hello world', encoding_format: 'float' });
    expect(again.data[0].embedding).toEqual(f.data[0].embedding);
  });

  it('base64 wire format is little-endian float32', async () => {
    const r = await fetch(mock.url + '/v1/embeddings', { method: 'POST', body: JSON.stringify({ model: 'e', input: 'abc', encoding_format: 'base64' }) });
    const j = await r.json();
    const buf = Buffer.from(j.data[0].embedding, 'base64');
    expect(buf.length).toBe(32);
    const f = await openai.embeddings.create({ model: 'e', input: 'abc', encoding_format: 'float' });
    for (let i = 0; i < 8; i++) expect(buf.readFloatLE(i * 4)).toBe(f.data[0].embedding[i]);
  });

  it('models list (OpenAI and Anthropic shapes)', async () => {
    const page = await openai.models.list();
    const ids = page.data.map((m) => m.id);
    expect(ids).toContain('gpt-4o-mini');
    expect(page.data[0]).toMatchObject({ object: 'model', owned_by: expect.any(String), created: expect.any(Number) });
    const am = await anthropic.models.list();
    expect(am.data.map((m) => m.id)).toContain('claude-sonnet-4-5');
    expect(am.data[0].type).toBe('model');
  });
});

describe('Anthropic messages', () => {
  it('non-stream: message object, usage excludes cached tokens', async () => {
    mock.setBehavior({ cachedTokens: 2, cacheWriteTokens: 1 });
    const m = await anthropic.messages.create({
      model: 'claude-sonnet-4-5',
      max_tokens: 100,
      system: 'abcd',
      messages: [{ role: 'user', content: USER_MSG }],
    });
    expect(m.type).toBe('message');
    expect(m.role).toBe('assistant');
    expect(m.model).toBe('claude-sonnet-4-5');
    expect(m.content).toEqual([{ type: 'text', text: words(16) }]);
    expect(m.stop_reason).toBe('end_turn');
    const P = Math.ceil((4 + 25) / 4); // 8
    expect(m.usage).toEqual({ input_tokens: P - 3, output_tokens: 16, cache_read_input_tokens: 2, cache_creation_input_tokens: 1 });
  });

  it('max_tokens truncates with stop_reason max_tokens', async () => {
    const m = await anthropic.messages.create({ model: 'c', max_tokens: 4, messages: [{ role: 'user', content: 'x' }] });
    expect(m.content).toEqual([{ type: 'text', text: words(4) }]);
    expect(m.stop_reason).toBe('max_tokens');
    expect(m.usage.output_tokens).toBe(4);
  });

  it('stream: raw event order and usage', async () => {
    mock.setBehavior({ completionTokens: 3, cachedTokens: 1 });
    const stream = await anthropic.messages.create({ model: 'claude-haiku-4-5', max_tokens: 50, stream: true, messages: [{ role: 'user', content: [{ type: 'text', text: USER_MSG }] }] });
    const evs: any[] = [];
    for await (const e of stream) evs.push(e);
    expect(evs.map((e) => e.type)).toEqual([
      'message_start',
      'content_block_start',
      'content_block_delta',
      'content_block_delta',
      'content_block_delta',
      'content_block_stop',
      'message_delta',
      'message_stop',
    ]);
    expect(evs[0].message.usage).toMatchObject({ input_tokens: 7 - 1, output_tokens: 1, cache_read_input_tokens: 1, cache_creation_input_tokens: 0 });
    expect(evs[0].message.model).toBe('claude-haiku-4-5');
    expect(evs.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text)).toEqual(['tok0', ' tok1', ' tok2']);
    expect(evs[6].delta.stop_reason).toBe('end_turn');
    expect(evs[6].usage.output_tokens).toBe(3);
    const { text } = await rawSSE('/v1/messages', { model: 'c', max_tokens: 5, stream: true, messages: [] });
    const raw = parseSSE(text);
    expect(raw.map((e) => e.event)).toContain('ping');
    for (const e of raw) expect(JSON.parse(e.data).type).toBe(e.event);
  });

  it('stream helper: finalMessage', async () => {
    const s = anthropic.messages.stream({ model: 'c', max_tokens: 100, messages: [{ role: 'user', content: 'hello' }] });
    const final = await s.finalMessage();
    expect(final.content[0]).toMatchObject({ type: 'text', text: words(16) });
    expect(final.usage.output_tokens).toBe(16);
    expect(final.usage.input_tokens).toBe(2);
    expect(final.stop_reason).toBe('end_turn');
  });

  it('count_tokens', async () => {
    const r = await anthropic.messages.countTokens({ model: 'c', system: 'abcd', messages: [{ role: 'user', content: 'abcdefgh' }] });
    expect(r.input_tokens).toBe(3);
  });
});

describe('tool calls', () => {
  const oaTools: OpenAI.Chat.Completions.ChatCompletionTool[] = [
    { type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: {} } } },
    { type: 'function', function: { name: 'other', parameters: { type: 'object', properties: {} } } },
  ];
  const anTools: Anthropic.Tool[] = [{ name: 'lookup', input_schema: { type: 'object', properties: {} } }];

  it('OpenAI chat non-stream and stream', async () => {
    const r = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: oaTools });
    expect(r.choices[0].finish_reason).toBe('tool_calls');
    const tc = r.choices[0].message.tool_calls![0] as any;
    expect(tc.type).toBe('function');
    expect(tc.function.name).toBe('get_weather');
    expect(JSON.parse(tc.function.arguments)).toEqual({ x: 1 });

    const s = openai.chat.completions.stream({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: oaTools, stream_options: { include_usage: true } });
    const final = await s.finalChatCompletion();
    expect(final.choices[0].finish_reason).toBe('tool_calls');
    const stc = final.choices[0].message.tool_calls![0] as any;
    expect(stc.function.name).toBe('get_weather');
    expect(JSON.parse(stc.function.arguments)).toEqual({ x: 1 });
    expect(final.usage?.completion_tokens).toBe(16);
  });

  it('tool_choice none and toolCall:false answer with text', async () => {
    const r = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: oaTools, tool_choice: 'none' });
    expect(r.choices[0].message.content).toBe(words(16));
    mock.setBehavior({ toolCall: false });
    const r2 = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: oaTools });
    expect(r2.choices[0].message.tool_calls).toBeUndefined();
  });

  it('OpenAI responses function_call, stream and non-stream', async () => {
    const tools: OpenAI.Responses.Tool[] = [{ type: 'function', name: 'fn_a', parameters: {}, strict: false }];
    const r = await openai.responses.create({ model: 'm', input: 'x', tools });
    expect(r.output[0]).toMatchObject({ type: 'function_call', name: 'fn_a', arguments: '{"x":1}' });
    const final = await openai.responses.stream({ model: 'm', input: 'x', tools }).finalResponse();
    expect(final.output[0]).toMatchObject({ type: 'function_call', name: 'fn_a', arguments: '{"x":1}' });
  });

  it('Anthropic tool_use, stream and non-stream', async () => {
    const m = await anthropic.messages.create({ model: 'c', max_tokens: 100, tools: anTools, messages: [{ role: 'user', content: 'x' }] });
    expect(m.stop_reason).toBe('tool_use');
    expect(m.content[0]).toMatchObject({ type: 'tool_use', name: 'lookup', input: { x: 1 } });
    const final = await anthropic.messages.stream({ model: 'c', max_tokens: 100, tools: anTools, messages: [{ role: 'user', content: 'x' }] }).finalMessage();
    expect(final.stop_reason).toBe('tool_use');
    expect(final.content[0]).toMatchObject({ type: 'tool_use', name: 'lookup', input: { x: 1 } });
  });
});

describe('failure modes', () => {
  it('500 and 503 in both protocols', async () => {
    mock.setBehavior({ fail: '500' });
    const e1: any = await openai.chat.completions.create({ model: 'm', messages: [] }).catch((e) => e);
    expect(e1).toBeInstanceOf(OpenAI.InternalServerError);
    expect(e1.status).toBe(500);
    expect(e1.type).toBe('server_error');
    const e2: any = await anthropic.messages.create({ model: 'c', max_tokens: 5, messages: [] }).catch((e) => e);
    expect(e2).toBeInstanceOf(Anthropic.InternalServerError);
    expect(e2.status).toBe(500);
    expect(e2.error).toMatchObject({ type: 'error', error: { type: 'api_error' } });
    mock.setBehavior({ fail: '503' });
    const e3: any = await openai.embeddings.create({ model: 'e', input: 'x' }).catch((e) => e);
    expect(e3.status).toBe(503);
    expect(mock.stats().failures).toBe(3);
  });

  it('429 with retry-after, and SDK retry honours it', async () => {
    mock.setBehavior({ fail: '429', retryAfter: 2 });
    const e: any = await openai.chat.completions.create({ model: 'm', messages: [] }).catch((x) => x);
    expect(e).toBeInstanceOf(OpenAI.RateLimitError);
    expect(e.headers.get('retry-after')).toBe('2');
    expect(e.code).toBe('rate_limit_exceeded');
    const ea: any = await anthropic.messages.create({ model: 'c', max_tokens: 5, messages: [] }).catch((x) => x);
    expect(ea).toBeInstanceOf(Anthropic.RateLimitError);
    expect(ea.error.error.type).toBe('rate_limit_error');
    expect(ea.headers.get('retry-after')).toBe('2');

    mock.setBehavior({ fail: '429', failCount: 1, retryAfter: 0.05 });
    const t0 = Date.now();
    const ok = await oa({ maxRetries: 1 }).chat.completions.create({ model: 'm', messages: [] });
    expect(ok.choices[0].message.content).toBe(words(16));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
    expect(mock.stats().byPath['/v1/chat/completions']).toBe(3);
  });

  it('failCount fails only the first N requests', async () => {
    mock.setBehavior({ fail: '500', failCount: 2 });
    const results = [];
    for (let i = 0; i < 4; i++) {
      results.push(await openai.chat.completions.create({ model: 'm', messages: [] }).then(() => 'ok', (e) => e.status));
    }
    expect(results).toEqual([500, 500, 'ok', 'ok']);
  });

  it('x-mock-fail header fails one request only', async () => {
    const e: any = await openai.chat.completions.create({ model: 'm', messages: [] }, { headers: { 'x-mock-fail': '503' } }).catch((x) => x);
    expect(e.status).toBe(503);
    const ok = await openai.chat.completions.create({ model: 'm', messages: [] });
    expect(ok.choices[0].message.content).toBe(words(16));
  });

  it('reset closes the connection without an answer', async () => {
    mock.setBehavior({ fail: 'reset' });
    const e: any = await openai.chat.completions.create({ model: 'm', messages: [] }).catch((x) => x);
    expect(e).toBeInstanceOf(OpenAI.APIConnectionError);
    const ea: any = await anthropic.messages.create({ model: 'c', max_tokens: 5, messages: [] }).catch((x) => x);
    expect(ea).toBeInstanceOf(Anthropic.APIConnectionError);
    expect(mock.stats().aborted).toBe(0);
  });

  it('timeout never answers; the client giving up counts as aborted', async () => {
    mock.setBehavior({ fail: 'timeout' });
    const e: any = await oa({ timeout: 300 }).chat.completions.create({ model: 'm', messages: [] }).catch((x) => x);
    expect(e).toBeInstanceOf(OpenAI.APIConnectionTimeoutError);
    for (let i = 0; i < 50 && mock.stats().aborted < 1; i++) await sleep(10);
    expect(mock.stats().aborted).toBe(1);
    expect(mock.stats().inFlight).toBe(0);
  });

  it('cut-stream: half the chunks then the connection drops (OpenAI)', async () => {
    mock.setBehavior({ fail: 'cut-stream' });
    const stream = await openai.chat.completions.create({ model: 'm', stream: true, stream_options: { include_usage: true }, messages: [] });
    const got: string[] = [];
    let usage: unknown = null;
    const err = await (async () => {
      for await (const c of stream) {
        if (c.usage) usage = c.usage;
        const d = c.choices[0]?.delta?.content;
        if (d) got.push(d);
      }
    })().catch((x) => x);
    expect(err).toBeInstanceOf(Error);
    expect(got.join('')).toBe(words(8));
    expect(usage).toBeNull();
    expect(mock.stats().aborted).toBe(0);
  });

  it('cut-stream: no message_stop (Anthropic)', async () => {
    mock.setBehavior({ fail: 'cut-stream', completionTokens: 10 });
    const stream = await anthropic.messages.create({ model: 'c', max_tokens: 100, stream: true, messages: [] });
    const types: string[] = [];
    const err = await (async () => {
      for await (const e of stream) types.push(e.type);
    })().catch((x) => x);
    expect(err).toBeInstanceOf(Error);
    expect(types.filter((t) => t === 'content_block_delta')).toHaveLength(5);
    expect(types).not.toContain('message_stop');
    expect(types).not.toContain('message_delta');
  });

  it('cut-stream on a non-stream request truncates the body', async () => {
    mock.setBehavior({ fail: 'cut-stream' });
    const e: any = await openai.chat.completions.create({ model: 'm', messages: [] }).catch((x) => x);
    expect(e).toBeInstanceOf(Error);
    const r = await fetch(mock.url + '/v1/chat/completions', { method: 'POST', body: '{"model":"m","messages":[]}' });
    expect(r.status).toBe(200);
    const reader = r.body!.getReader();
    let got = '';
    const err = await (async () => {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) return null;
        got += Buffer.from(value).toString();
      }
    })().catch((x) => x);
    expect(err).toBeInstanceOf(Error);
    expect(got.startsWith('{"id":"chatcmpl-')).toBe(true);
  });

  it('malformed-sse makes the SDK stream parser fail, the rest of the stream still follows', async () => {
    mock.setBehavior({ fail: 'malformed-sse', completionTokens: 4 });
    const stream = await openai.chat.completions.create({ model: 'm', stream: true, messages: [] });
    const err = await (async () => {
      for await (const _ of stream) { /* drain */ }
    })().catch((x) => x);
    expect(err).toBeInstanceOf(SyntaxError);
    const { text } = await rawSSE('/v1/messages', { model: 'c', max_tokens: 10, stream: true, messages: [] });
    const evs = parseSSE(text);
    const bad = evs.filter((e) => { try { JSON.parse(e.data); return false; } catch { return true; } });
    expect(bad).toHaveLength(1);
    expect(evs[evs.length - 1].event).toBe('message_stop');
  });

  it('requireKey: 401 in protocol shape unless the key is presented', async () => {
    mock.setBehavior({ requireKey: 'sk-good' });
    const e: any = await openai.chat.completions.create({ model: 'm', messages: [] }).catch((x) => x);
    expect(e).toBeInstanceOf(OpenAI.AuthenticationError);
    expect(e.status).toBe(401);
    expect(e.code).toBe('invalid_api_key');
    const ea: any = await anthropic.messages.create({ model: 'c', max_tokens: 5, messages: [] }).catch((x) => x);
    expect(ea).toBeInstanceOf(Anthropic.AuthenticationError);
    expect(ea.error).toMatchObject({ type: 'error', error: { type: 'authentication_error' } });
    const ok = await oa({ apiKey: 'sk-good' }).chat.completions.create({ model: 'm', messages: [] });
    expect(ok.choices[0].message.content).toBe(words(16));
    const oka = await an({ apiKey: 'sk-good' }).messages.create({ model: 'c', max_tokens: 100, messages: [] });
    expect(oka.content[0]).toMatchObject({ text: words(16) });
    // Bearer on the Anthropic path is not enough: it needs x-api-key
    const r = await fetch(mock.url + '/v1/messages', { method: 'POST', headers: { authorization: 'Bearer sk-good' }, body: '{}' });
    expect(r.status).toBe(401);
  });

  it('bodies over 64 MiB are refused with 413', async () => {
    const reply: string = await new Promise((resolve, reject) => {
      const sock = net.connect(mock.port, '127.0.0.1', () => {
        sock.write('POST /v1/messages HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ' + (64 * 1024 * 1024 + 1) + '\r\n\r\n{');
      });
      let buf = '';
      sock.on('data', (d) => { buf += d; });
      sock.on('close', () => resolve(buf));
      sock.on('error', reject);
      setTimeout(() => { sock.destroy(); resolve(buf); }, 3000);
    });
    expect(reply.startsWith('HTTP/1.1 413')).toBe(true);
    expect(reply).toContain('"request_too_large"');
  });

  it('bad JSON -> 400 and unknown path -> 404, in protocol shape', async () => {
    const r1 = await fetch(mock.url + '/v1/chat/completions', { method: 'POST', body: '{nope' });
    expect(r1.status).toBe(400);
    expect((await r1.json()).error.type).toBe('invalid_request_error');
    const r2 = await fetch(mock.url + '/v1/messages', { method: 'POST', body: '[1,2]' });
    expect(r2.status).toBe(400);
    expect(await r2.json()).toMatchObject({ type: 'error', error: { type: 'invalid_request_error' } });
    const r3 = await fetch(mock.url + '/v2/whatever');
    expect(r3.status).toBe(404);
    expect((await r3.json()).error.message).toContain('/v2/whatever');
    const e: any = await openai.completions.create({ model: 'm', prompt: 'x' }).catch((x) => x);
    expect(e).toBeInstanceOf(OpenAI.NotFoundError);
  });
});

describe('usage accounting options', () => {
  it('prompt tokens follow the documented rule; promptTokens overrides it', () => {
    expect(computePromptTokens('/v1/chat/completions', { messages: [{ role: 'user', content: 'Hello world' }] })).toBe(3);
    expect(computePromptTokens('/v1/chat/completions', {
      messages: [{ role: 'user', content: [{ type: 'text', text: 'abcd' }, { type: 'image_url', image_url: { url: 'data:xxxxxxxxxxxxxxx' } }] }],
    })).toBe(1);
    expect(computePromptTokens('/v1/messages', {
      system: [{ type: 'text', text: 'abcd' }],
      messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 't', content: [{ type: 'text', text: 'abcde' }] }] }],
    })).toBe(3);
    expect(computePromptTokens('/v1/embeddings', { input: [1, 2, 3] })).toBe(3);
    expect(computePromptTokens('/v1/chat/completions', { messages: [] }, 42)).toBe(42);
  });

  it('promptTokens fixed value is reported by every protocol', async () => {
    mock.setBehavior({ promptTokens: 100, cachedTokens: 30, cacheWriteTokens: 20 });
    const r = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(r.usage?.prompt_tokens).toBe(100);
    const a = await anthropic.messages.create({ model: 'c', max_tokens: 100, messages: [{ role: 'user', content: 'x' }] });
    expect(a.usage).toMatchObject({ input_tokens: 50, cache_read_input_tokens: 30, cache_creation_input_tokens: 20 });
    const e = await openai.embeddings.create({ model: 'e', input: 'x' });
    expect(e.usage.prompt_tokens).toBe(100);
  });

  it('omitUsage never reports usage', async () => {
    mock.setBehavior({ omitUsage: true });
    const r = await openai.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }] });
    expect(r.usage).toBeUndefined();
    const s = await openai.chat.completions.create({ model: 'm', stream: true, stream_options: { include_usage: true }, messages: [] });
    let sawUsage = false;
    let text = '';
    for await (const c of s) {
      if (c.usage) sawUsage = true;
      text += c.choices[0]?.delta?.content ?? '';
    }
    expect(sawUsage).toBe(false);
    expect(text).toBe(words(16));
    const a = await anthropic.messages.create({ model: 'c', max_tokens: 100, messages: [] });
    expect((a as any).usage).toBeUndefined();
    const raw = await rawSSE('/v1/messages', { model: 'c', max_tokens: 100, stream: true, messages: [] });
    expect(raw.text).not.toContain('usage');
    const resp = await openai.responses.create({ model: 'm', input: 'x' });
    expect(resp.usage ?? null).toBeNull();
    const emb = await openai.embeddings.create({ model: 'e', input: 'x', encoding_format: 'float' });
    expect(emb.usage).toBeUndefined();
  });
});

describe('timing', () => {
  it('latencyMs delays the answer', async () => {
    mock.setBehavior({ latencyMs: 120 });
    const t0 = performance.now();
    await openai.chat.completions.create({ model: 'm', messages: [] });
    expect(performance.now() - t0).toBeGreaterThanOrEqual(110);
  });

  it('chunkDelayMs spaces the streamed frames', async () => {
    mock.setBehavior({ chunkDelayMs: 40, completionTokens: 5 });
    const stream = await openai.chat.completions.create({ model: 'm', stream: true, messages: [] });
    const times: number[] = [];
    for await (const c of stream) if (c.choices[0]?.delta?.content) times.push(performance.now());
    expect(times).toHaveLength(5);
    expect(times[4] - times[0]).toBeGreaterThanOrEqual(4 * 40 - 15);
  });

  it('honours backpressure: pauses for a slow reader, which still gets a long stream intact', async () => {
    const N = 150000; // ~16 MB of SSE, far more than the socket buffers hold
    mock.setBehavior({ completionTokens: N });
    const r = await fetch(mock.url + '/v1/messages', { method: 'POST', body: JSON.stringify({ model: 'c', max_tokens: N, stream: true, messages: [] }) });
    const reader = r.body!.getReader();
    await sleep(300); // let kernel and uWS buffers fill up
    // the mock must be waiting for the reader, not have dumped everything into memory
    expect(mock.stats().inFlight).toBe(1);
    const dec = new TextDecoder();
    let text = '';
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      text += dec.decode(value, { stream: true });
    }
    expect(mock.stats().inFlight).toBe(0);
    const deltas = parseSSE(text).filter((e) => e.event === 'content_block_delta').map((e) => JSON.parse(e.data).delta.text);
    expect(deltas).toHaveLength(N);
    expect(deltas[N - 1]).toBe(' tok' + (N - 1));
    expect(deltas.join('')).toBe(words(N));
    expect(text.endsWith('event: message_stop\ndata: {"type":"message_stop"}\n\n')).toBe(true);
  });
});

describe('stats and control endpoints', () => {
  it('counts requests by path and model, keeps last headers and body', async () => {
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'a' }] });
    await openai.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'b' }] });
    await openai.embeddings.create({ model: 'text-embedding-3-small', input: 'x' });
    await openai.models.list();
    await anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: [{ role: 'user', content: 'c' }] }, { headers: { 'X-Custom-Thing': 'Yes' } });
    const s = mock.stats();
    expect(s.requests).toBe(5);
    expect(s.byPath).toEqual({ '/v1/chat/completions': 2, '/v1/embeddings': 1, '/v1/models': 1, '/v1/messages': 1 });
    expect(s.byModel).toEqual({ 'gpt-4o': 2, 'text-embedding-3-small': 1, 'claude-sonnet-4-5': 1 });
    expect(s.lastHeaders['x-custom-thing']).toBe('Yes');
    expect(s.lastHeaders['x-api-key']).toBe('sk-ant-test');
    expect(Object.keys(s.lastHeaders).every((k) => k === k.toLowerCase())).toBe(true);
    expect(s.lastBody).toMatchObject({ model: 'claude-sonnet-4-5', max_tokens: 10 });
    expect(s.inFlight).toBe(0);
    expect(s.aborted).toBe(0);
    mock.reset();
    expect(mock.stats()).toMatchObject({ requests: 0, byPath: {}, byModel: {}, lastBody: null });
  });

  it('inFlight counts requests in progress', async () => {
    mock.setBehavior({ latencyMs: 200 });
    const p = openai.chat.completions.create({ model: 'm', messages: [] });
    await sleep(80);
    expect(mock.stats().inFlight).toBe(1);
    await p;
    expect(mock.stats().inFlight).toBe(0);
  });

  it('HTTP control: POST /__mock/behavior, GET /__mock/stats, POST /__mock/reset', async () => {
    const b = await fetch(mock.url + '/__mock/behavior', { method: 'POST', body: JSON.stringify({ completionTokens: 2, fail: null }) });
    expect(b.status).toBe(200);
    expect((await b.json()).completionTokens).toBe(2);
    const r = await openai.chat.completions.create({ model: 'm', messages: [] });
    expect(r.choices[0].message.content).toBe('tok0 tok1');
    const bad = await fetch(mock.url + '/__mock/behavior', { method: 'POST', body: JSON.stringify({ fail: 'nope' }) });
    expect(bad.status).toBe(400);
    const st = await (await fetch(mock.url + '/__mock/stats')).json();
    expect(st.requests).toBe(1); // control requests are not counted
    expect(st.byPath['/v1/chat/completions']).toBe(1);
    // keep-behavior reset clears stats only
    await fetch(mock.url + '/__mock/reset?keep-behavior=1', { method: 'POST' });
    expect(mock.stats().requests).toBe(0);
    expect((await openai.chat.completions.create({ model: 'm', messages: [] })).choices[0].message.content).toBe('tok0 tok1');
    // plain reset restores the start behaviour too
    await fetch(mock.url + '/__mock/reset', { method: 'POST' });
    expect(mock.stats().requests).toBe(0);
    expect((await openai.chat.completions.create({ model: 'm', messages: [] })).choices[0].message.content).toBe(words(16));
  });
});
