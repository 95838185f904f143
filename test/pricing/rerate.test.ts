import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { Ledger } from '../../src/store/ledger.js';
import { agentScopeKey, customerScopeKey } from '../../src/store/aggregates.js';
import { PriceTable, type PriceEntry } from '../../src/pricing/price-table.js';
import { repriceRow } from '../../src/pricing/reprice.js';
import { AT_COST, type ResaleTerms } from '../../src/pricing/resale.js';
import { rerate, type RerateDeps } from '../../src/admin/rerate.js';
import { usageRow } from '../reports/seed-ledger.js';
import { tempDir } from '../helpers/temp-dir.js';

// Re-rating on a real LMDB ledger: which rows are priced again and how, and that rows, the
// adjustments log, aggregates (every period, customer and agent) and report indexes (every
// dimension, tag folds included) move together and only once.

const T = Date.parse('2031-06-10T10:00:00Z');
const chat = (over: Partial<PriceEntry> = {}): PriceEntry => ({ provider: 'openai', mode: 'chat', input: 1_000_000, output: 2_000_000, source: 'override', ...over });
const tableOf = (models: Record<string, PriceEntry>) => new PriceTable({ schema: 1, models, aliases: {} });
// 100 prompt + 40 completion tokens at 1/2 $ per 1M: 100*1e6 + 40*2e6 = 180e6 pico = 180_000 nano.
const ORIGINAL = 180_000;

describe('repriceRow', () => {
  const t = tableOf({
    m: chat({ input: 2_000_000 }),
    claude: chat({ cache_write: 1_250_000, cache_write_1h: 2_000_000 }),
    img: { provider: 'openai', mode: 'image_generation', per_image: 40_000_000_000, source: 'override' },
  });
  const row = (over: Parameters<typeof usageRow>[0]) => usageRow({ cost_nano: ORIGINAL, billed_nano: ORIGINAL, price_source: 'm', ...over });

  it('prices a row from the entry it was billed from, at its own time', () => {
    expect(repriceRow(row({ ts: T, customer: 'c' }), t, AT_COST)).toEqual({ cost_nano: 280_000, billed_nano: 280_000, price_source: 'm' });
  });

  it('bills with the customer terms only when the cost moves', () => {
    const markup: ResaleTerms = { markup: 2, prices: {} };
    expect(repriceRow(row({ ts: T, customer: 'c' }), t, markup)).toMatchObject({ billed_nano: 560_000 });
    const same = row({ ts: T, customer: 'c', price_source: 'm', cost_nano: 280_000, billed_nano: 300_000 });
    expect(repriceRow(same, t, markup)).toMatchObject({ cost_nano: 280_000, billed_nano: 300_000 });
  });

  it('leaves what it cannot price again, and says why', () => {
    expect(repriceRow(row({ ts: T, customer: 'c', decision: 'blocked' }), t, AT_COST)).toBe('blocked');
    expect(repriceRow(row({ ts: T, customer: 'c', price_source: null }), t, AT_COST)).toBe('not_metered');
    expect(repriceRow(row({ ts: T, customer: 'c', price_source: 'gone' }), t, AT_COST)).toBe('no_price_now');
    expect(repriceRow(row({ ts: T, customer: 'c', price_source: 'unknown', model: 'nope' }), t, AT_COST)).toBe('still_unpriced');
    expect(repriceRow(row({ ts: T, customer: 'c', price_source: 'img', model: 'img' }), t, AT_COST)).toBe('not_token_priced');
    expect(repriceRow(row({ ts: T, customer: 'c', price_source: 'claude', cache_write_tokens: 10 }), t, AT_COST)).toBe('cache_split_unknown');
  });

  it('prices a row charged by the unknownModel rule once the table knows its model', () => {
    expect(repriceRow(row({ ts: T, customer: 'c', price_source: 'unknown', model: 'm', cost_nano: 0, billed_nano: 0 }), t, AT_COST)).toEqual({ cost_nano: 280_000, billed_nano: 280_000, price_source: 'm' });
  });

  it('prices 1-hour cache writes at their own rate when the row keeps the split', () => {
    const r = repriceRow(row({ ts: T, customer: 'c', price_source: 'claude', prompt_tokens: 100, completion_tokens: 0, cache_write_tokens: 30, cache_write_1h_tokens: 10 }), t, AT_COST);
    // 70 plain input at 1e6, 20 five-minute writes at 1.25e6, 10 one-hour writes at 2e6 (pico): 115e6 pico.
    expect(r).toMatchObject({ cost_nano: 115_000 });
  });
});

describe('rerate on the ledger', () => {
  const dir = join(tempDir('tollgate-rerate-'), 'data');
  const ledger = new Ledger(dir, 'UTC', false, { maxTagValuesPerDay: 1 });
  afterAll(async () => { await ledger.close(); });

  const rows = [
    usageRow({ ts: T, customer: 'acme', agent: 'bot', tags: { team: 'a' }, cost_nano: ORIGINAL, billed_nano: 2 * ORIGINAL, price_source: 'm' }),
    usageRow({ ts: T + 1, customer: 'acme', agent: 'bot', tags: { team: 'b' }, cost_nano: ORIGINAL, billed_nano: 2 * ORIGINAL, price_source: 'm' }), // team=b folds into team=(other)
    usageRow({ ts: T + 2, customer: 'acme', agent: null, cost_nano: ORIGINAL, billed_nano: 2 * ORIGINAL, price_source: 'other' }),
    usageRow({ ts: T + 3, customer: 'acme', decision: 'blocked', cost_nano: 0, billed_nano: 0, price_source: null }),
  ];
  const corrected = tableOf({ m: chat({ input: 2_000_000 }), other: chat() });
  const deps = (prices: PriceTable): RerateDeps => ({ ledger, prices, resaleOf: () => ({ markup: 2, prices: {} }), providerType: () => 'openai', now: () => T + 86_400_000 });
  const request = { from: T - 1000, to: T + 1000, reason: 'input price of m corrected', actor: 'test' };

  it('adjusts rows, log, aggregates and report indexes together, once', async () => {
    await Promise.all(rows.map((r) => ledger.append(r)));
    const before = ledger.aggregateAt(customerScopeKey('acme'), 'month', T);
    const r = await rerate(deps(corrected), request);
    expect(r).toMatchObject({ scanned: 4, adjusted: 2, unchanged: 1, skipped: { blocked: 1 }, cost_delta_nano: 200_000, billed_delta_nano: 400_000 });

    const row = ledger.get(T, rows[0]!.request_id)!;
    expect(row).toMatchObject({ cost_nano: 280_000, billed_nano: 560_000, original_cost_nano: ORIGINAL, original_billed_nano: 2 * ORIGINAL });
    const log = [...ledger.adjustments({ from: T - 1000, to: T + 1000 })];
    expect(log.map((a) => [a.request_id, a.old_cost_nano, a.new_cost_nano, a.old_billed_nano, a.new_billed_nano, a.actor])).toEqual([
      [rows[0]!.request_id, ORIGINAL, 280_000, 2 * ORIGINAL, 560_000, 'test'],
      [rows[1]!.request_id, ORIGINAL, 280_000, 2 * ORIGINAL, 560_000, 'test'],
    ]);

    const after = ledger.aggregateAt(customerScopeKey('acme'), 'month', T);
    expect(after.cost_nano - before.cost_nano).toBe(200_000);
    expect(after.billed_nano - before.billed_nano).toBe(400_000);
    expect(after.calls).toBe(before.calls);
    expect(ledger.aggregateAt(customerScopeKey('acme'), 'day', T).cost_nano).toBe(2 * 280_000 + ORIGINAL);
    expect(ledger.aggregateAt(customerScopeKey('acme'), 'week', T).cost_nano).toBe(2 * 280_000 + ORIGINAL);
    expect(ledger.aggregateAt(customerScopeKey('acme'), 'total', T).cost_nano).toBe(2 * 280_000 + ORIGINAL);
    expect(ledger.aggregateAt(agentScopeKey('acme', 'bot'), 'month', T).cost_nano).toBe(2 * 280_000);

    const day = ledger.reports.day(T);
    expect(ledger.reports.totals('acme', day, day).cost_nano).toBe(2 * 280_000 + ORIGINAL);
    expect(ledger.reports.breakdown('acme', day, day, 'agent').get('bot')!.billed_nano).toBe(2 * 560_000);
    const tags = ledger.reports.breakdown('acme', day, day, 'tag');
    expect(tags.get('team=a')!.cost_nano).toBe(280_000);
    expect(tags.get('team=(other)')!.cost_nano).toBe(280_000);
    expect(tags.has('team=b')).toBe(false);

    const again = await rerate(deps(corrected), request);
    expect(again).toMatchObject({ adjusted: 0, unchanged: 3, cost_delta_nano: 0 });
    expect([...ledger.adjustments({})]).toHaveLength(2);
  });

  it('keeps the first figures on the row through a second correction', async () => {
    const r = await rerate(deps(tableOf({ m: chat({ input: 3_000_000 }), other: chat() })), { ...request, reason: 'second correction' });
    expect(r.adjusted).toBe(2);
    expect(ledger.get(T, rows[0]!.request_id)).toMatchObject({ cost_nano: 380_000, original_cost_nano: ORIGINAL, original_billed_nano: 2 * ORIGINAL });
    expect([...ledger.adjustments({})]).toHaveLength(4);
  });

  it('skips a row another re-rate changed after it was read', async () => {
    const row = ledger.get(T + 2, rows[2]!.request_id)!;
    const stale = { request_id: row.request_id, row_ts: row.ts, customer: row.customer, agent: row.agent, model: row.model, old_cost_nano: row.cost_nano + 1, new_cost_nano: 1, old_billed_nano: row.billed_nano, new_billed_nano: 1, old_price_source: row.price_source, new_price_source: row.price_source, reason: 'stale', actor: 't', rerate_id: 'rr_x', ts: T };
    expect(await ledger.applyAdjustments([stale])).toEqual([]);
    expect(ledger.get(T + 2, row.request_id)!.cost_nano).toBe(ORIGINAL);
  });
});
