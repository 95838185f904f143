import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';

// Issue 12 item 11: proxied calls and monitoring mode meter through one
// module, so their refusals and their usage rows cannot drift apart.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const PROXIED_KEY = 'tg-proxied-key-01';
const MONITORED_KEY = 'tg-monitored-key1';

beforeAll(async () => {
  mock = await startMockUpstream();
  tg = await startTollgate({
    providers: providers(mock.url),
    unknownModel: 'default',
    unknownModelPrice: { input: 1, output: 2 },
    customers: [
      { id: 'proxied', keys: [PROXIED_KEY], rateLimit: { requestsPerMinute: 1 } },
      { id: 'monitored', keys: [MONITORED_KEY], rateLimit: { requestsPerMinute: 1 } },
    ],
  }, { shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const post = (path: string, key: string, body: unknown) =>
  fetch(tg.url + path, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });

async function unpricedCalls(): Promise<number> {
  const m = /^tollgate_unpriced_calls_total (\d+)/m.exec(await tg.adminText('/metrics'));
  return Number(m?.[1] ?? NaN);
}

describe('one metering module for proxied and monitored calls', () => {
  it('a monitoring 429 names the velocity limit like the proxied one', async () => {
    const chat = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }] };
    expect((await post('/v1/chat/completions', PROXIED_KEY, chat)).status).toBe(200);
    const proxied = await post('/v1/chat/completions', PROXIED_KEY, chat);
    expect(proxied.status).toBe(429);
    const proxiedError = (await proxied.json()).error;

    expect((await post('/v1/usage/authorize', MONITORED_KEY, { model: 'gpt-4o-mini', max_tokens: 10 })).status).toBe(200);
    const monitored = await post('/v1/usage/authorize', MONITORED_KEY, { model: 'gpt-4o-mini', max_tokens: 10 });
    expect(monitored.status).toBe(429);
    expect(monitored.headers.get('retry-after')).toBeTruthy();
    const monitoredError = (await monitored.json()).error;

    expect(proxiedError.limit).toEqual({ metric: 'requests', window_seconds: 60, limit: 1, source: 'customer' });
    expect(monitoredError.limit).toEqual(proxiedError.limit);
    expect(monitoredError.type).toBe(proxiedError.type);
  });

  it('counts a monitoring event for a model without a price in tollgate_unpriced_calls_total (unknownModel: default)', async () => {
    const before = await unpricedCalls();
    const r = await post('/v1/usage/events', MONITORED_KEY, { model: 'no-such-model-xyz', prompt_tokens: 1000, completion_tokens: 100, idempotency_key: 'unpriced-1' });
    expect(r.status).toBe(200);
    expect((await r.json()).cost_usd).toBeCloseTo((1000 * 1 + 100 * 2) / 1e6, 12);
    expect(await unpricedCalls()).toBe(before + 1);
  });
});
