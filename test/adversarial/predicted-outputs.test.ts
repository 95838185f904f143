import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, expectedCostUsd, providers } from '../helpers/fixtures.js';

// Issue 11, "then prove it": OpenAI's predicted outputs (`prediction`). The
// provider bills the predicted tokens it rejects as completion tokens, on
// top of what the output cap allows, and reports them in completion_tokens.
// Settle must take that report as possible (it is bounded by the
// prediction's size), not throw it away as "beyond max_tokens × n" and bill
// our count of the visible text instead.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const OUT = 10;
const REJECTED = 2000;
const PREDICTION = 'const value = computeSomething(input); '.repeat(300); // well over REJECTED tokens

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: OUT });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK, shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

describe('a predicted output the provider rejects', () => {
  it('is billed as the completion tokens the provider reports', async () => {
    mock.setBehavior({ usageOverride: { completion_tokens: OUT + REJECTED, completion_tokens_details: { reasoning_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: REJECTED } } });
    const r = await request(`${tg.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: OUT, messages: [{ role: 'user', content: 'Rewrite it' }], prediction: { type: 'content', content: PREDICTION } }),
    });
    const json = (await r.body.json()) as any;
    expect(r.statusCode).toBe(200);
    const { rows } = await tg.admin('/admin/usage?customer=acme&limit=10');
    const row = rows.find((x: any) => x.request_id === r.headers['x-tollgate-request-id']);
    expect(row.reason ?? '').not.toMatch(/invalid_provider_usage/);
    expect(row.completion_tokens).toBe(OUT + REJECTED);
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('gpt-4o', { prompt: json.usage.prompt_tokens, completion: OUT + REJECTED }), 12);
  });

  it('still flags completion tokens beyond the cap plus the prediction', async () => {
    mock.setBehavior({ usageOverride: { completion_tokens: 1_000_000 } });
    const r = await request(`${tg.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o', max_tokens: OUT, messages: [{ role: 'user', content: 'Rewrite it' }], prediction: { type: 'content', content: 'short' } }),
    });
    await r.body.text();
    const { rows } = await tg.admin('/admin/usage?customer=acme&limit=10');
    const row = rows.find((x: any) => x.request_id === r.headers['x-tollgate-request-id']);
    expect(row.reason).toMatch(/invalid_provider_usage/);
    expect(row.completion_tokens).toBeLessThan(100);
  });
});
