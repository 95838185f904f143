import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, launch, startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { providers, sleep } from '../helpers/fixtures.js';
import { priceTableCopy, shippedPrices } from '../helpers/price-table.js';

// Dated prices on a real proxy: a change takes effect in the middle of the test (on the process
// clock), calls on either side are priced differently; then the change turns out to be wrong, is
// corrected, and the period is re-rated: rows, CSV, daily report, aggregates and the live budget
// counter all show the corrected figures, the originals stay on the rows and in the adjustments
// log, and a second run (through the CLI) changes nothing.

const PROMPT = 100;
const OUT = 50;
const MARKUP = 1.5;
const BASE = { input: 150_000, output: 600_000 }; // gpt-4o-mini, pico-USD per token
const WRONG_INPUT = 3_000_000;
const RIGHT_INPUT = 2_500_000;
const cli = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const table = priceTableCopy('tollgate-dated-prices-');

const costNano = (input: number) => Math.round((PROMPT * input + OUT * BASE.output) / 1000);
const usd = (nano: number) => nano / 1e9;

function writeTable(cut: number, input: number) {
  const data = shippedPrices();
  expect(data.models['gpt-4o-mini']).toMatchObject(BASE);
  data.models['gpt-4o-mini'].changes = [{ effective_from: new Date(cut).toISOString(), input }];
  writeFileSync(table, JSON.stringify(data));
}

async function waitForSchedule(input: number) {
  for (let i = 0; i < 60; i++) {
    const p = await tg.admin('/admin/pricing/gpt-4o-mini');
    if (p.price_schedule?.[1]?.provider_price.input === input / 1e6) return p;
    await sleep(200);
  }
  throw new Error('the proxy did not load the dated price');
}

const call = () =>
  new OpenAI({ apiKey: 'tg-dated-key-1', baseURL: `${tg.url}/v1`, maxRetries: 0 }).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: OUT }).withResponse();

async function rowOf(id: string) {
  const { rows } = await tg.admin('/admin/usage?customer=dated&limit=1000');
  return rows.find((r: any) => r.request_id === id);
}

async function post(path: string, body: unknown) {
  const r = await fetch(tg.url + path, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() as any };
}

let cut = 0;
let before = '';
let after = '';

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT });
  tg = await startTollgate({
    providers: providers(mock.url),
    pricingTable: table,
    plans: [{ name: 'resale', markup: MARKUP, budgets: [{ limit: 10, unit: 'USD', period: 'month' }] }],
    customers: [{ id: 'dated', plan: 'resale', keys: ['tg-dated-key-1'] }],
  }, { clockStart: TEST_CLOCK, shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

describe('a dated price change', () => {
  it('prices calls before its instant at the old price and calls after it at the new one', async () => {
    cut = tg.now() + 4000;
    writeTable(cut, WRONG_INPUT);
    const view = await waitForSchedule(WRONG_INPUT);
    expect(view.provider_price.input).toBeCloseTo(0.15, 12); // in force now: the old price
    expect(view.price_schedule.map((v: any) => [v.effective_from, v.status])).toEqual([[null, 'in_force'], [new Date(cut).toISOString(), 'scheduled']]);

    before = (await call()).response.headers.get('x-tollgate-request-id')!;
    const a = await rowOf(before);
    expect(Date.parse(a.ts)).toBeLessThan(cut);
    await sleep(cut - tg.now() + 300);
    after = (await call()).response.headers.get('x-tollgate-request-id')!;
    const b = await rowOf(after);
    expect(Date.parse(b.ts)).toBeGreaterThanOrEqual(cut);

    expect(a.cost_usd).toBeCloseTo(usd(costNano(BASE.input)), 12);
    expect(b.cost_usd).toBeCloseTo(usd(costNano(WRONG_INPUT)), 12);
    expect(b.billed).toBeCloseTo(usd(Math.round(costNano(WRONG_INPUT) * MARKUP)), 9);
    const now = await tg.admin('/admin/pricing/gpt-4o-mini');
    expect(now.provider_price.input).toBeCloseTo(3, 12);
    expect(now.price_schedule.map((v: any) => v.status)).toEqual(['past', 'in_force']);
  });
});

describe('re-rating after a price correction', () => {
  const range = () => ({ from: new Date(TEST_CLOCK - 3_600_000).toISOString(), to: new Date(tg.now() + 3_600_000).toISOString() });

  it('refuses a request without a reason or with a bad range', async () => {
    expect((await post('/admin/rerate', { ...range(), reason: '' })).body.error.message).toMatch(/reason: required/);
    expect((await post('/admin/rerate', { from: range().to, to: range().from, reason: 'wrong order' })).body.error.message).toMatch(/to: must be later than from/);
  });

  it('moves rows, CSV, daily report, aggregates and the live budget to the corrected price, keeping the originals', async () => {
    writeTable(cut, RIGHT_INPUT);
    await waitForSchedule(RIGHT_INPUT);
    const r = await post('/admin/rerate', { ...range(), reason: 'the July input price was announced as $2.50, not $3', actor: 'alice' });
    expect(r.status).toBe(200);
    const wrong = costNano(WRONG_INPUT);
    const right = costNano(RIGHT_INPUT);
    expect(r.body).toMatchObject({ rows_considered: 2, adjusted: 1, unchanged: 1, actor: 'admin-api:alice', budget_counters_moved: 1 });
    expect(r.body.cost_delta_usd).toBeCloseTo(usd(right - wrong), 12);

    const a = await rowOf(before);
    const b = await rowOf(after);
    expect(a.cost_usd).toBeCloseTo(usd(costNano(BASE.input)), 12);
    expect(a.original_cost_usd).toBeUndefined();
    expect(b.cost_usd).toBeCloseTo(usd(right), 12);
    expect(b.billed).toBeCloseTo(usd(Math.round(right * MARKUP)), 9);
    expect(b.original_cost_usd).toBeCloseTo(usd(wrong), 12);
    expect(b.original_billed).toBeCloseTo(usd(Math.round(wrong * MARKUP)), 9);

    const csv = await tg.adminText('/admin/usage?customer=dated&format=csv');
    const header = csv.split('\n')[0]!.split(',');
    const line = csv.split('\n').find((l) => l.startsWith(after))!.split(',');
    expect(Number(line[header.indexOf('cost_usd')])).toBeCloseTo(usd(right), 12);

    const totalCost = costNano(BASE.input) + right;
    const totalBilled = Math.round(costNano(BASE.input) * MARKUP) + Math.round(right * MARKUP);
    const day = new Date(tg.now()).toISOString().slice(0, 10);
    const daily = await tg.admin(`/admin/reports/daily?customer=dated&from=${day}&to=${day}`);
    expect(daily.days[0].cost_usd).toBeCloseTo(usd(totalCost), 12);
    expect(daily.days[0].billed).toBeCloseTo(usd(totalBilled), 9);
    const byModel = await tg.admin(`/admin/reports/breakdown?customer=dated&from=${day}&to=${day}&by=model`);
    expect(byModel.rows.find((x: any) => x.model === 'gpt-4o-mini').cost_usd).toBeCloseTo(usd(totalCost), 12);

    const view = await tg.admin('/admin/customers/dated');
    expect(view.month.cost_usd).toBeCloseTo(usd(totalCost), 12); // the ledger's aggregates
    expect(view.budgets[0].used).toBeCloseTo(usd(totalBilled), 9); // the live counter

    const log = await tg.admin(`/admin/rerate/adjustments?from=${range().from}&to=${range().to}`);
    expect(log.adjustments).toHaveLength(1);
    expect(log.adjustments[0]).toMatchObject({ request_id: after, customer: 'dated', rerate_id: r.body.rerate_id, actor: 'admin-api:alice', reason: 'the July input price was announced as $2.50, not $3' });
    expect(log.adjustments[0].old_cost_usd).toBeCloseTo(usd(wrong), 12);
    expect(log.adjustments[0].new_cost_usd).toBeCloseTo(usd(right), 12);
  });

  it('changes nothing when run again (through the CLI)', async () => {
    const { from, to } = range();
    const run = spawnSync(process.execPath, [cli, 'rerate', '--config', tg.configFile, '--url', tg.url, '--from', from, '--to', to, '--reason', 'second run, same table', '--model', 'gpt-4o-mini'], { encoding: 'utf8', timeout: 30_000 });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ rows_considered: 2, adjusted: 0, unchanged: 2, budget_counters_moved: 0 });
    expect((await tg.admin(`/admin/rerate/adjustments?from=${from}&to=${to}`)).adjustments).toHaveLength(1);
    const view = await tg.admin('/admin/customers/dated');
    expect(view.budgets[0].used).toBeCloseTo(usd(Math.round(costNano(BASE.input) * MARKUP) + Math.round(costNano(RIGHT_INPUT) * MARKUP)), 9);
  });

  it('moves a budget counter first used after a restart once, not twice', async () => {
    await tg.stop();
    tg = await launch(tg.configFile, tg.dataDir);
    const input = 2_000_000;
    writeTable(cut, input);
    await waitForSchedule(input);
    // No call since the restart: the re-rate is the first to use this customer's counter.
    const r = await post('/admin/rerate', { ...range(), reason: 'the July input price is $2, a second correction' });
    expect(r.body).toMatchObject({ adjusted: 1, budget_counters_moved: 1 });
    const billed = Math.round(costNano(BASE.input) * MARKUP) + Math.round(costNano(input) * MARKUP);
    const view = await tg.admin('/admin/customers/dated');
    expect(view.month.billed).toBeCloseTo(usd(billed), 9);
    expect(view.budgets[0].used).toBeCloseTo(usd(billed), 9);
    const b = await rowOf(after);
    expect(b.original_cost_usd).toBeCloseTo(usd(costNano(WRONG_INPUT)), 12); // the first figures, not the last
  });
});
