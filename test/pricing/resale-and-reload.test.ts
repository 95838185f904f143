import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import OpenAI from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { expectedCostUsd, providers, sleep } from '../helpers/fixtures.js';
import { priceTableCopy } from '../helpers/price-table.js';

// Resale (markup and custom price lists), unpriced models by rule, the
// pricing endpoints, and reloading the price table without a restart.

const PROMPT = 100;
const OUT = 50;
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const table = priceTableCopy('tollgate-prices-');

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT });
  tg = await startTollgate({
    providers: providers(mock.url),
    pricingTable: table,
    unknownModel: 'default',
    unknownModelPrice: { input: 1, output: 2 },
    plans: [{ name: 'resale', markup: 1.3, budgets: [{ limit: 10, unit: 'USD', period: 'month' }] }],
    customers: [
      { id: 'marked', plan: 'resale', keys: ['tg-marked-key-1'] },
      { id: 'custom', plan: 'resale', keys: ['tg-custom-key-1'], prices: { 'gpt-4o-mini': { input: 1, output: 4 } } },
    ],
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const call = (key: string, model = 'gpt-4o-mini') =>
  new OpenAI({ apiKey: key, baseURL: `${tg.url}/v1`, maxRetries: 0 }).chat.completions.create({ model, messages: [{ role: 'user', content: 'hi' }], max_tokens: OUT }).withResponse();

async function row(id: string) {
  const { rows } = await tg.admin('/admin/usage?limit=100000');
  return rows.find((r: any) => r.request_id === id);
}

describe('resale', () => {
  it('bills cost × markup, keeps the provider cost beside it, and budgets count the billed amount', async () => {
    const { response } = await call('tg-marked-key-1');
    const r = await row(response.headers.get('x-tollgate-request-id')!);
    const cost = expectedCostUsd('gpt-4o-mini', { prompt: PROMPT, completion: OUT });
    expect(r.cost_usd).toBeCloseTo(cost, 12);
    expect(r.billed).toBeCloseTo(cost * 1.3, 9);
    const view = await tg.admin('/admin/customers/marked');
    expect(view.budgets[0].used).toBeCloseTo(r.billed, 9);
  });

  it('bills a custom price list instead of the markup', async () => {
    const { response } = await call('tg-custom-key-1');
    const r = await row(response.headers.get('x-tollgate-request-id')!);
    expect(r.billed).toBeCloseTo((PROMPT * 1 + OUT * 4) / 1e6, 12);
    expect(r.cost_usd).toBeCloseTo(expectedCostUsd('gpt-4o-mini', { prompt: PROMPT, completion: OUT }), 12);
  });

  it('shows the provider price and the customer price of a model', async () => {
    const p = await tg.admin('/admin/pricing/gpt-4o-mini-2024-07-18?customer=marked');
    expect(p.provider_price.input).toBeCloseTo(0.15, 9);
    expect(p.provider_price.output).toBeCloseTo(0.6, 9);
    expect(p.customer_price.input).toBeCloseTo(0.195, 9);
    expect(p.customer_price.markup).toBe(1.3);
    const c = await tg.admin('/admin/pricing/gpt-4o-mini?customer=custom');
    expect(c.customer_price).toMatchObject({ input: 1, output: 4, markup: null });
  });
});

describe('models without a price', () => {
  it('serves them at the configured default rate and flags the row', async () => {
    const { response } = await call('tg-marked-key-1', 'totally-new-model-x1');
    const r = await row(response.headers.get('x-tollgate-request-id')!);
    expect(r.price_source).toBe('unknown');
    expect(r.cost_usd).toBeCloseTo((PROMPT * 1 + OUT * 2) / 1e6, 12);
  });

  // A price list is a plain object: prices["constructor"] read through to Object.prototype, and the call billed 0.
  it.each(['constructor', 'toString', '__proto__', 'hasOwnProperty'])('bills a model named %s at its price × markup, never 0', async (model) => {
    const { response } = await call('tg-marked-key-1', model);
    const r = await row(response.headers.get('x-tollgate-request-id')!);
    expect(r.cost_usd).toBeCloseTo((PROMPT * 1 + OUT * 2) / 1e6, 12);
    expect(r.billed).toBeCloseTo(r.cost_usd * 1.3, 9);
  });
});

describe('price table reload', () => {
  it('picks up a changed table without a restart', async () => {
    const data = JSON.parse(readFileSync(table, 'utf8'));
    data.models['gpt-4o-mini'].input = 1_000_000; // $1 per 1M
    writeFileSync(table, JSON.stringify(data));
    let billedInput = 0;
    for (let i = 0; i < 40 && billedInput !== 1; i++) {
      await sleep(250);
      billedInput = (await tg.admin('/admin/pricing/gpt-4o-mini')).provider_price.input;
    }
    expect(billedInput).toBe(1);
    await sleep(2500); // every shard polls the file on its own; give the other one its turn
    const { response } = await call('tg-custom-key-1', 'gpt-4o-mini');
    const r = await row(response.headers.get('x-tollgate-request-id')!);
    expect(r.cost_usd).toBeCloseTo((PROMPT * 1 + OUT * 0.6) / 1e6, 12);
  });
});
