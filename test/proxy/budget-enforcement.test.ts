import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { APP_KEY, CUSTOMER_KEY, expectedCostUsd, providers } from '../helpers/fixtures.js';

// A budget worth ten calls against a hundred in flight at once: the shared
// reservation table must hold the cap, and every hold must come back.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const PROMPT = 40; // fixed prompt tokens at the mock
const OUT = 20;
const CALL_USD = expectedCostUsd('gpt-4o-mini', { prompt: PROMPT, completion: OUT });

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 300 });
  tg = await startTollgate({
    providers: providers(mock.url),
    plans: [{ name: 'starter', budgets: [{ limit: 3, unit: 'requests', period: 'day' }] }],
    customers: [
      // Budget for exactly 10 calls at the real cost; the prompt estimate is close to the real prompt.
      { id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: CALL_USD * 10, unit: 'USD', period: 'month' }] },
      { id: 'tok', keys: ['tg-tok-key-0001'], budgets: [{ limit: 1000, unit: 'tokens', period: 'day' }], agents: [{ id: 'bot', budgets: [{ limit: 2, unit: 'requests', period: 'day' }] }] },
    ],
    appKeys: [APP_KEY],
    defaultPlan: 'starter',
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

describe('budget enforcement under concurrency', () => {
  it('100 calls in flight on a budget worth 10: spend ends within one call of the cap and no hold leaks', async () => {
    const client = new OpenAI({ apiKey: CUSTOMER_KEY, baseURL: `${tg.url}/v1`, maxRetries: 0 });
    const before = mock.stats().requests;
    // A prompt the proxy estimates at exactly the mock's 40 tokens keeps the estimate at the real cost.
    const content = 'word '.repeat(20).trim();
    const results = await Promise.allSettled(
      Array.from({ length: 100 }, () => client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: OUT })),
    );
    const ok = results.filter((r) => r.status === 'fulfilled').length;
    const refused = results.filter((r) => r.status === 'rejected' && (r.reason as any).status === 402).length;
    expect(ok + refused).toBe(100);
    expect(ok).toBeGreaterThanOrEqual(8);
    expect(ok).toBeLessThanOrEqual(10);
    expect(mock.stats().requests - before).toBe(ok); // refusals never reached the upstream

    const view = await tg.admin('/admin/customers/acme');
    const usd = view.budgets.find((b: any) => b.unit === 'USD');
    expect(usd.reserved).toBe(0);
    expect(usd.used).toBeLessThanOrEqual(CALL_USD * 10 + 1e-9);
    expect(CALL_USD * 10 - usd.used).toBeLessThan(CALL_USD * 2 + 1e-9);

    const { rows } = await tg.admin('/admin/usage?customer=acme&limit=100000');
    expect(rows.filter((r: any) => r.decision === 'allowed')).toHaveLength(ok);
    expect(rows.filter((r: any) => r.decision === 'blocked')).toHaveLength(refused);
    const ledgerSum = rows.reduce((s: number, r: any) => s + r.cost_usd, 0);
    expect(usd.used).toBeCloseTo(ledgerSum, 9);
  });

  it('refuses with 402 and names the budget, in the OpenAI shape', async () => {
    const r = await fetch(`${tg.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'more' }], max_tokens: OUT }),
    });
    expect(r.status).toBe(402);
    expect(r.headers.get('x-tollgate-request-id')).toMatch(/^req_/);
    const body = await r.json();
    expect(body.error.type).toBe('budget_exceeded');
    expect(body.error.code).toBe('budget_exceeded');
    expect(body.error.scope).toMatchObject({ customer: 'acme', agent: null, unit: 'USD', period: 'month' });
    expect(body.error.scope.resets_at).toBe('2031-07-01T00:00:00.000Z'); // the month of TEST_CLOCK
    expect(body.error.message).toMatch(/budget exceeded: customer "acme" has used/);
  });

  it('refuses with 402 in the Anthropic shape, which the SDK raises without retrying', async () => {
    const client = new Anthropic({ apiKey: CUSTOMER_KEY, baseURL: tg.url });
    const before = mock.stats().requests;
    const err: any = await client.messages.create({ model: 'claude-haiku-4-5', max_tokens: 20, messages: [{ role: 'user', content: 'x' }] }).catch((e) => e);
    expect(err.status).toBe(402);
    expect(err.error.type).toBe('error');
    expect(err.error.error.type).toBe('budget_exceeded');
    expect(err.error.error.scope.customer).toBe('acme');
    expect(mock.stats().requests).toBe(before);
  });

  it('gives customers first seen through an app key the default plan', async () => {
    const client = new OpenAI({ apiKey: APP_KEY, baseURL: `${tg.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-tollgate-customer': 'newco' } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      statuses.push(await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] }).then(() => 200, (e) => e.status));
    }
    expect(statuses).toEqual([200, 200, 200, 402]);
    const view = await tg.admin('/admin/customers/newco');
    expect(view.budgets).toEqual([expect.objectContaining({ unit: 'requests', period: 'day', limit: 3, used: 3, reserved: 0, source: 'plan' })]);
  });

  it('enforces an agent budget under the customer and a token budget over all of them', async () => {
    const client = new OpenAI({ apiKey: 'tg-tok-key-0001', baseURL: `${tg.url}/v1`, maxRetries: 0 });
    const call = (agent?: string) =>
      client.chat.completions
        .create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: OUT }, agent ? { headers: { 'x-tollgate-agent': agent } } : {})
        .then(() => 200, (e) => e.error?.scope?.agent ?? e.status);
    expect([await call('bot'), await call('bot'), await call('bot')]).toEqual([200, 200, 'bot']);
    // Each call uses 60 tokens at the mock (a fixed 40-token prompt) and reserves ~41 ('hi' estimated
    // at ~21 + max_tokens): the 17th call (960 + 41 > 1000) no longer fits.
    const results: unknown[] = [];
    for (let i = 0; i < 20; i++) results.push(await call());
    expect(results.filter((r) => r === 200).length).toBe(14);
    expect(results.slice(14)).toEqual([402, 402, 402, 402, 402, 402]);
    const view = await tg.admin('/admin/customers/tok?agent=bot');
    const tokens = view.budgets.find((b: any) => b.unit === 'tokens');
    expect(tokens.used).toBe(16 * (PROMPT + OUT));
    expect(tokens.used - 1000).toBeLessThan(PROMPT + OUT);
  });
});
