import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers } from '../helpers/fixtures.js';
import { chat, hammer } from '../routing/helpers.js';

// Attack: spend through models the table prices at $0 (a scraped $0 row) or through ids the table
// used not to resolve (fine-tuned ids). A $0 row billed nothing, so a client could run an unlimited
// bill against a budget that never moved. Now: the $0 row is refused before any upstream call; a
// fine-tuned id is charged its fine-tune rate. Asserted from the ledger and the mock's own counts.

const PROMPT = 10;
const OUT = 5;
const LIMIT = 0.001; // USD
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: LIMIT, unit: 'USD', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

async function rows() {
  return (await tg.admin('/admin/usage?customer=acme&limit=100000')).rows as any[];
}

describe('spending through unpriced models', () => {
  it('a $0 table row is refused for every call and never reaches the upstream', async () => {
    mock.reset();
    const results = await hammer(40, 8, () => chat(tg.url, 'codestral/codestral-2405'));
    expect(results.every((r) => r.status === 400)).toBe(true);
    expect(mock.stats().requests).toBe(0);
    expect((await rows()).filter((r) => r.model === 'codestral/codestral-2405' && r.cost_usd > 0)).toEqual([]);
  });

  it('fine-tuned calls are charged at the fine-tune rate, every upstream call has a row, and spend stays within the limit', async () => {
    mock.reset();
    const model = 'ft:gpt-4o-mini-2024-07-18:acme::x1y2z3';
    const results = await hammer(200, 8, () => chat(tg.url, model));
    const served = results.filter((r) => r.status === 200);
    expect(served.length).toBeGreaterThan(0);
    expect(results.every((r) => r.status === 200 || r.status === 402)).toBe(true);
    const mine = (await rows()).filter((r) => r.model === model);
    // Every call the upstream received is charged, at 0.30 / 1.20 per 1M (not the base 0.15 / 0.60).
    expect(mine.length).toBe(mock.stats().requests);
    const perCall = (PROMPT * 0.3 + OUT * 1.2) / 1e6;
    for (const r of mine) expect(r.cost_usd).toBeCloseTo(perCall, 12);
    const spent = mine.reduce((s, r) => s + r.cost_usd, 0);
    // Stated bound: the reservation is an estimate; one call's worth of overshoot at most per shard.
    expect(spent).toBeLessThanOrEqual(LIMIT + 2 * perCall * 1.0001);
  });
});
