import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeFileSync } from 'node:fs';
import OpenAI from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { providers, sleep } from '../helpers/fixtures.js';
import { priceTableCopy, shippedPrices } from '../helpers/price-table.js';

// A re-rate moves the live budget counter of a budget kept in the customer's
// own time zone. The counter's period starts at the zone's midnight (Tokyo's
// June began at 15:00 UTC on May 31); a re-rate that placed each row in the
// clock's (UTC) period found no row in the counter's period and left it at
// the old price, so the budget enforced on figures the ledger no longer held.

const PROMPT = 100;
const OUT = 50;
const BASE = { input: 150_000, output: 600_000 }; // gpt-4o-mini, pico-USD per token
const RIGHT_INPUT = 2_500_000;
const costNano = (input: number) => Math.round((PROMPT * input + OUT * BASE.output) / 1000);
const usd = (nano: number) => nano / 1e9;

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const table = priceTableCopy('tollgate-rerate-zone-');

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT });
  tg = await startTollgate({
    providers: providers(mock.url),
    pricingTable: table,
    customers: [{ id: 'tokyo', timeZone: 'Asia/Tokyo', keys: ['tg-tokyo-key-1'], budgets: [{ limit: 10, unit: 'USD', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK, shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

async function post(path: string, body: unknown) {
  const r = await fetch(tg.url + path, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() as any };
}

describe('re-rating a customer whose budgets keep their own time zone', () => {
  it('moves the live counter of the zone\'s period', async () => {
    const client = new OpenAI({ apiKey: 'tg-tokyo-key-1', baseURL: `${tg.url}/v1`, maxRetries: 0 });
    await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: OUT });
    expect((await tg.admin('/admin/customers/tokyo')).budgets[0].used).toBeCloseTo(usd(costNano(BASE.input)), 9);

    // The price was wrong from before the call: correct it from an hour before the clock started.
    const data = shippedPrices();
    expect(data.models['gpt-4o-mini']).toMatchObject(BASE);
    data.models['gpt-4o-mini'].changes = [{ effective_from: new Date(TEST_CLOCK - 3_600_000).toISOString(), input: RIGHT_INPUT }];
    writeFileSync(table, JSON.stringify(data));
    for (let i = 0; ; i++) {
      const p = await tg.admin('/admin/pricing/gpt-4o-mini');
      if (p.price_schedule?.[1]?.provider_price.input === RIGHT_INPUT / 1e6) break;
      if (i === 60) throw new Error('the proxy did not load the corrected price');
      await sleep(200);
    }

    const r = await post('/admin/rerate', { from: new Date(TEST_CLOCK - 3_600_000).toISOString(), to: new Date(tg.now() + 3_600_000).toISOString(), reason: 'input price corrected' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ adjusted: 1, budget_counters_moved: 1 });
    const view = await tg.admin('/admin/customers/tokyo');
    expect(view.budgets[0].used).toBeCloseTo(usd(costNano(RIGHT_INPUT)), 9);
  });
});
