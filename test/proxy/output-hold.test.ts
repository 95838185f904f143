import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';

// A call without max_tokens holds what such calls use (a forecast of the
// customer's recent completions for the model, 256 tokens at first), not the
// model's whole maximum output (16,384 for gpt-4o-mini).

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const KEYS = { small: 'tg-small-key-1', tiny: 'tg-tiny-key-1', learner: 'tg-learner-key-1' };

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 40 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [
      // Room for about 300 output tokens after a short prompt.
      { id: 'small', keys: [KEYS.small], budgets: [{ limit: 310, unit: 'tokens', period: 'month' }] },
      { id: 'tiny', keys: [KEYS.tiny], budgets: [{ limit: 100, unit: 'tokens', period: 'month' }] },
      { id: 'learner', keys: [KEYS.learner], budgets: [{ limit: 700, unit: 'tokens', period: 'month' }] },
    ],
  }, { clockStart: TEST_CLOCK, shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${tg.url}/v1`, maxRetries: 0 });
const ask = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'hi' }] };

describe('the output a call without max_tokens holds', () => {
  it('answers a 40-token call when the budget has room for 300 output tokens', async () => {
    const r = await client(KEYS.small).chat.completions.create(ask);
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect(r.usage!.completion_tokens).toBe(40);
  });

  it('answers the same call streamed', async () => {
    const stream = await client(KEYS.small).chat.completions.create({ ...ask, stream: true });
    let text = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta?.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('stop');
    expect(text.split(' ').filter(Boolean)).toHaveLength(40);
    const view = await tg.admin('/admin/customers/small');
    expect(view.budgets[0].reserved).toBe(0);
  });

  it('says in a refusal what the call would have held', async () => {
    mock.reset({ keepBehavior: true });
    const err = await client(KEYS.tiny).chat.completions.create(ask).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(err.status).toBe(402);
    expect(err.message).toMatch(/has used 0 .*not enough for this call.*needs an estimated \d+ prompt \+ 256 output tokens \(forecast from recent answers; set max_tokens to hold less\) = \d+ tokens held/);
    expect(mock.stats().requests).toBe(0);
  });

  it('holds what the customer\'s recent answers used once it has a history', async () => {
    const c = client(KEYS.learner);
    // 12 answers of 40 tokens (+1 prompt token each): 492 of 700 used, 208 left, less than the first-call hold of 256.
    for (let i = 0; i < 12; i++) await c.chat.completions.create(ask);
    const view = await tg.admin('/admin/customers/learner');
    expect(view.budgets[0].used).toBe(492);
    // The forecast is now 40 × 1.25 = 50 tokens: the call is admitted.
    const r = await c.chat.completions.create(ask);
    expect(r.usage!.completion_tokens).toBe(40);
  });
});
