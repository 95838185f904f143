import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, expectedCostUsd, providers } from '../helpers/fixtures.js';

// /v1/usage/authorize without max_tokens holds what the customer's calls to
// the model use (the forecast proxied calls are held), not the model's whole
// max output (16,384 tokens for gpt-4o-mini, which would refuse a customer
// with room for a short answer); the events that settle such holds feed the
// forecast. One shard: the forecast is kept per shard.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const DEFAULT_HOLD = 256;
const USED = 40;

async function post(path: string, body: unknown): Promise<any> {
  const r = await request(`${tg.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const out = (await r.body.json()) as any;
  expect(r.statusCode, JSON.stringify(out)).toBe(200);
  return out;
}

const reserved = async () => (await tg.admin('/admin/customers/acme')).budgets[0].reserved as number;

beforeAll(async () => {
  mock = await startMockUpstream({});
  tg = await startTollgate({
    providers: providers(mock.url),
    reservations: { defaultTokens: DEFAULT_HOLD, minTokens: 16, minSamples: 2, margin: 1, percentile: 100 },
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK, shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

describe('monitoring authorize without max_tokens', () => {
  it('holds the output forecast, then what settled events of the model used', async () => {
    const first = await post('/v1/usage/authorize', { model: 'gpt-4o-mini' });
    expect(first.max_tokens).toBeUndefined();
    expect(await reserved()).toBeCloseTo(expectedCostUsd('gpt-4o-mini', { prompt: 0, completion: DEFAULT_HOLD }), 9);
    await post('/v1/usage/events', { model: 'gpt-4o-mini', prompt_tokens: 10, completion_tokens: USED, reservation_id: first.reservation_id, idempotency_key: 'fc-1' });
    const second = await post('/v1/usage/authorize', { model: 'gpt-4o-mini' });
    await post('/v1/usage/events', { model: 'gpt-4o-mini', prompt_tokens: 10, completion_tokens: USED, reservation_id: second.reservation_id, idempotency_key: 'fc-2' });
    expect(await reserved()).toBe(0);

    await post('/v1/usage/authorize', { model: 'gpt-4o-mini' });
    expect(await reserved()).toBeCloseTo(expectedCostUsd('gpt-4o-mini', { prompt: 0, completion: USED }), 9);
  });

  it('holds the max_tokens the app gives', async () => {
    const before = await reserved();
    await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: 1000 });
    expect((await reserved()) - before).toBeCloseTo(expectedCostUsd('gpt-4o-mini', { prompt: 0, completion: 1000 }), 9);
  });
});
