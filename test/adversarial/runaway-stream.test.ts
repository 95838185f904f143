import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { listPrice, providers, sleep } from '../helpers/fixtures.js';

// A customer with a 500-token budget asks for an answer that would run to
// 2,000 tokens, without max_tokens (or, on Anthropic, with a max_tokens far
// above the budget). The stream's hold grows as it goes and the stream ends
// cleanly at the budget: the SDK sees a normal end (finish_reason "length",
// stop_reason "max_tokens", response.incomplete), the call is billed for what
// was generated, and spend passes the limit by at most one event's output.
// A non-streamed answer cannot be cut: its overshoot is bounded by the
// model's max output, and clampMaxTokens makes it zero.

const LIMIT = 500;
/** One mock event is one word ("tok123 "), a few tokens; the tokenizer's count of event-split text may add one per event. */
const ONE_EVENT = 8;

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const customers = ['chat', 'sdkstream', 'anthropic', 'responses', 'json', 'clamp', 'parallel', 'via-chat', 'via-messages', 'responses-helper'] as const;
/** A money budget worth about 500 output tokens of gpt-4o-mini. */
const USD_LIMIT = 500 * listPrice('gpt-4o-mini').output / 1e12;
const key = (c: string) => `tg-${c}-key-1`;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 2000, chunkDelayMs: 2 });
  tg = await startTollgate({
    providers: providers(mock.url),
    routes: [
      { model: 'gpt-only', targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] },
      { model: 'claude-only', targets: [{ provider: 'anthropic', model: 'claude-haiku-4-5' }] },
    ],
    customers: [...customers.map((id) => ({
      id, keys: [key(id)], budgets: [{ limit: LIMIT, unit: 'tokens', period: 'month' }], ...(id === 'clamp' ? { clampMaxTokens: true } : {}),
    })), { id: 'usd', keys: [key('usd')], budgets: [{ limit: USD_LIMIT, unit: 'USD', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const openai = (c: string) => new OpenAI({ apiKey: key(c), baseURL: `${tg.url}/v1`, maxRetries: 0 });
const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'write a very long story' }] };

async function rows(customer: string): Promise<any[]> {
  return (await tg.admin(`/admin/usage?customer=${customer}&limit=1000`)).rows;
}

async function budget(customer: string) {
  return (await tg.admin(`/admin/customers/${customer}`)).budgets[0];
}

/** Every call that reached the upstream has a charged row; nothing is left reserved. */
async function allBilled(customer: string, upstreamCalls: number) {
  const rs = await rows(customer);
  expect(rs.filter((r) => r.completion_tokens > 0 && r.prompt_tokens > 0)).toHaveLength(upstreamCalls);
  expect(rs.every((r) => r.status < 500)).toBe(true);
  expect((await budget(customer)).reserved).toBe(0);
}

/** tollgate_budget_cut_total in /metrics (NaN when the series is missing). */
async function budgetCuts(): Promise<number> {
  return Number((await tg.adminText('/metrics')).match(/^tollgate_budget_cut_total (\d+)$/m)?.[1] ?? NaN);
}

describe('a stream that would run past the budget', () => {
  it('ends at the budget with finish_reason length and the usage chunk, read by the OpenAI SDK', async () => {
    mock.reset({ keepBehavior: true });
    const cutsBefore = await budgetCuts();
    const stream = await openai('chat').chat.completions.create({ ...ask, stream: true, stream_options: { include_usage: true } });
    let words = 0;
    let finish: string | null = null;
    let usage: OpenAI.CompletionUsage | undefined;
    for await (const chunk of stream) {
      words += (chunk.choices[0]?.delta?.content ?? '').split(' ').filter(Boolean).length;
      finish = chunk.choices[0]?.finish_reason ?? finish;
      if (chunk.usage) usage = chunk.usage;
    }
    expect(finish).toBe('length');
    expect(words).toBeGreaterThan(50);
    expect(words).toBeLessThan(2000);
    const [row] = await rows('chat');
    expect(row.reason).toMatch(/^budget_cut/);
    expect(row.status).toBe(200);
    expect(usage).toMatchObject({ prompt_tokens: row.prompt_tokens, completion_tokens: row.completion_tokens });
    const b = await budget('chat');
    expect(b.used).toBeLessThanOrEqual(LIMIT + ONE_EVENT);
    expect(b.used).toBeGreaterThan(LIMIT * 0.9); // the prompt estimate held may exceed the prompt billed
    await sleep(100);
    expect(mock.stats().aborted).toBe(1);
    await allBilled('chat', 1);
    // Counted once in /metrics (shards report their counters on an interval).
    expect(cutsBefore).toBe(0);
    let cuts = await budgetCuts();
    for (let i = 0; i < 40 && cuts === 0; i++, cuts = await budgetCuts()) await sleep(100);
    expect(cuts).toBe(1);
  });

  it('ends so that the SDK\'s stream helper finishes with a final completion', async () => {
    const final = await openai('sdkstream').chat.completions.stream({ ...ask }).finalChatCompletion();
    expect(final.choices[0]!.finish_reason).toBe('length');
    expect(final.choices[0]!.message.content).toMatch(/^tok0 tok1 /);
    expect((await budget('sdkstream')).used).toBeLessThanOrEqual(LIMIT + ONE_EVENT);
    await allBilled('sdkstream', 1);
  });

  it('ends an Anthropic stream whose max_tokens the budget cannot pay for with stop_reason max_tokens', async () => {
    const anthropic = new Anthropic({ apiKey: key('anthropic'), baseURL: tg.url, maxRetries: 0 });
    const msg = await anthropic.messages.stream({ model: 'claude-haiku-4-5', max_tokens: 4096, messages: [{ role: 'user', content: 'write a very long story' }] }).finalMessage();
    expect(msg.stop_reason).toBe('max_tokens');
    expect(msg.content[0]).toMatchObject({ type: 'text' });
    const [row] = await rows('anthropic');
    expect(row.reason).toMatch(/^budget_cut/);
    expect(msg.usage.output_tokens).toBe(row.completion_tokens);
    const b = await budget('anthropic');
    expect(b.used).toBeLessThanOrEqual(LIMIT + ONE_EVENT);
    expect(b.used).toBeGreaterThan(LIMIT * 0.9); // the prompt estimate held may exceed the prompt billed
    await allBilled('anthropic', 1);
  });

  it('ends a Responses stream with response.incomplete for max_output_tokens', async () => {
    const stream = await openai('responses').responses.create({ model: 'gpt-4o-mini', input: 'write a very long story', stream: true });
    let last: any;
    for await (const ev of stream) last = ev;
    expect(last.type).toBe('response.incomplete');
    expect(last.response.incomplete_details).toEqual({ reason: 'max_output_tokens' });
    expect((await budget('responses')).used).toBeLessThanOrEqual(LIMIT + ONE_EVENT);
    await allBilled('responses', 1);
  });

  it('ends a Responses stream so that the SDK\'s stream helper finishes with the text generated', async () => {
    const final = await openai('responses-helper').responses.stream({ model: 'gpt-4o-mini', input: 'write a very long story' }).finalResponse();
    expect(final.output_text).toMatch(/^tok0 tok1 /);
    expect((await budget('responses-helper')).used).toBeLessThanOrEqual(LIMIT + ONE_EVENT);
    await allBilled('responses-helper', 1);
  });

  it('ends an Anthropic client\'s stream served by an OpenAI target with stop_reason max_tokens', async () => {
    const anthropic = new Anthropic({ apiKey: key('via-chat'), baseURL: tg.url, maxRetries: 0 });
    const msg = await anthropic.messages.stream({ model: 'gpt-only', max_tokens: 4096, messages: [{ role: 'user', content: 'write a very long story' }] }).finalMessage();
    expect(msg.stop_reason).toBe('max_tokens');
    expect((await rows('via-chat'))[0].reason).toMatch(/^budget_cut/);
    expect((await budget('via-chat')).used).toBeLessThanOrEqual(LIMIT + ONE_EVENT);
    await allBilled('via-chat', 1);
  });

  it('ends an OpenAI client\'s stream served by an Anthropic target with finish_reason length', async () => {
    const final = await openai('via-messages').chat.completions.stream({ ...ask, model: 'claude-only' }).finalChatCompletion();
    expect(final.choices[0]!.finish_reason).toBe('length');
    expect((await rows('via-messages'))[0].reason).toMatch(/^budget_cut/);
    expect((await budget('via-messages')).used).toBeLessThanOrEqual(LIMIT + ONE_EVENT);
    await allBilled('via-messages', 1);
  });

  it('ends at a money budget too, within one event\'s cost of it', async () => {
    const final = await openai('usd').chat.completions.stream({ ...ask }).finalChatCompletion();
    expect(final.choices[0]!.finish_reason).toBe('length');
    const b = await budget('usd');
    const eventUsd = ONE_EVENT * listPrice('gpt-4o-mini').output / 1e12;
    expect(b.used).toBeLessThanOrEqual(USD_LIMIT + eventUsd);
    expect(b.used).toBeGreaterThan(USD_LIMIT * 0.9);
    await allBilled('usd', 1);
  });

  it('keeps parallel streams of one customer within the budget together', async () => {
    const runs = await Promise.all([0, 1, 2, 3].map(async () => {
      try {
        const stream = await openai('parallel').chat.completions.create({ ...ask, stream: true });
        let finish: string | null = null;
        for await (const chunk of stream) finish = chunk.choices[0]?.finish_reason ?? finish;
        return finish;
      } catch (e) {
        return (e as { status?: number }).status;
      }
    }));
    // Each is either cut at the budget or refused once nothing is left.
    for (const r of runs) expect(['length', 402]).toContain(r);
    const b = await budget('parallel');
    expect(b.used).toBeLessThanOrEqual(LIMIT + 4 * ONE_EVENT);
    await allBilled('parallel', runs.filter((r) => r === 'length').length);
  });
});

describe('a non-streamed answer that runs past its hold', () => {
  it('is billed in full: its overshoot is bounded by the model\'s max output', async () => {
    const r = await openai('json').chat.completions.create(ask);
    expect(r.usage!.completion_tokens).toBe(2000);
    const b = await budget('json');
    expect(b.used).toBe(r.usage!.prompt_tokens + 2000);
    expect(b.used).toBeLessThanOrEqual(LIMIT + 16_384);
    await allBilled('json', 1);
  });

  it('does not overshoot when the scope clamps max_tokens', async () => {
    const r = await openai('clamp').chat.completions.create(ask);
    expect(r.choices[0]!.finish_reason).toBe('length');
    expect((await budget('clamp')).used).toBeLessThanOrEqual(LIMIT);
    await allBilled('clamp', 1);
  });
});
