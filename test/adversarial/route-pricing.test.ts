import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { expectedCostUsd, providers } from '../helpers/fixtures.js';

// Issue 11, "then prove it": a route whose targets cost different amounts.
// The reservation was priced on the first planned target, but a call may be
// served by a later, dearer one: here the client itself steers it there,
// with a feature the first target (another protocol) cannot take (`n: 2`
// has no Anthropic equivalent, so claude-haiku is skipped and gpt-4o
// answers). Parallel calls on a small budget must stay within it: the
// reservation is priced on the dearest target the call may reach.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const KEY = 'tg-adv-route-0001';
const OUT = 200;
const CALL_USD = expectedCostUsd('gpt-4o', { prompt: 10, completion: OUT * 2 });
const LIMIT = CALL_USD * 2.6;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: OUT, latencyMs: 300 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'route', keys: [KEY], budgets: [{ limit: LIMIT, unit: 'USD', period: 'month' }] }],
    routes: [{ model: 'smart', targets: [{ provider: 'anthropic', model: 'claude-haiku-4-5', priority: 0 }, { provider: 'openai', model: 'gpt-4o', priority: 1 }] }],
  }, { clockStart: TEST_CLOCK, shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

describe('a route with a cheap first target and a dear fallback', () => {
  it('keeps parallel calls the client steers to the dear target within the budget', async () => {
    const statuses = await Promise.all(Array.from({ length: 20 }, async () => {
      const r = await request(`${tg.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'smart', n: 2, max_tokens: OUT, messages: [{ role: 'user', content: 'Hello world' }] }),
      });
      await r.body.text();
      return r.statusCode;
    }));
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    expect(mock.stats().byModel).toEqual({ 'gpt-4o': statuses.filter((s) => s === 200).length });
    const { rows } = await tg.admin('/admin/usage?customer=route&limit=1000');
    const allowed = rows.filter((r: any) => r.decision === 'allowed');
    expect(allowed.length).toBe(mock.stats().requests);
    expect(allowed.length).toBeGreaterThan(0);
    const spent = rows.reduce((s: number, r: any) => s + r.cost_usd, 0);
    expect(spent).toBeLessThanOrEqual(LIMIT);
  });
});
