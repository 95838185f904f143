import { afterEach, describe, expect, it } from 'vitest';
import { Ledger } from '../../src/store/ledger.js';
import { Retention } from '../../src/store/retention.js';
import { customersReport, dailyReport, summaryReport } from '../../src/admin/reports.js';
import type { UsageRecord } from '../../src/store/usage-record.js';
import { tempDir } from '../helpers/temp-dir.js';

// The report indexes are written by the real ledger in the same transaction
// as the rows; these tests write rows through it and read reports back.

let ledger: Ledger | undefined;
afterEach(async () => {
  await ledger?.close();
  ledger = undefined;
});

function open(tz = 'UTC', maxTagValuesPerDay?: number): Ledger {
  ledger = new Ledger(tempDir('tg-reports-'), tz, false, { maxTagValuesPerDay });
  return ledger;
}

let seq = 0;
function row(over: Partial<UsageRecord> & { ts: number; customer: string }): UsageRecord {
  return {
    request_id: `req_${(seq++).toString().padStart(8, '0')}`,
    agent: null, tags: {}, endpoint: '/v1/chat/completions', model_requested: 'gpt-4o-mini', model: 'gpt-4o-mini',
    provider: 'openai', prompt_tokens: 100, completion_tokens: 50, cached_tokens: 0, cache_write_tokens: 0,
    cost_nano: 1_000, billed_nano: 1_300, decision: 'allowed', reason: null, status: 200, latency_ms: 5,
    idempotency_key: null, price_source: 'gpt-4o-mini', usage_source: 'provider',
    ...over,
  };
}

const at = (iso: string) => Date.parse(iso);

describe('report indexes', () => {
  it('sums a customer\'s rows per day, model, agent and tag, with cost against billed', async () => {
    const l = open();
    await Promise.all([
      l.append(row({ customer: 'acme', ts: at('2026-03-01T10:00:00Z'), agent: 'bot', tags: { team: 'a' } })),
      l.append(row({ customer: 'acme', ts: at('2026-03-01T23:59:59Z'), model: 'gpt-4o', cost_nano: 5_000, billed_nano: 6_500, tags: { team: 'b' } })),
      l.append(row({ customer: 'acme', ts: at('2026-03-02T00:00:00Z'), decision: 'blocked', model: null, cost_nano: 0, billed_nano: 0, prompt_tokens: 0, completion_tokens: 0, status: 402 })),
      l.append(row({ customer: 'acme', ts: at('2026-04-01T00:00:00Z') })), // next month: outside the report
      l.append(row({ customer: 'beta', ts: at('2026-03-05T12:00:00Z'), cost_nano: 7, billed_nano: 7 })),
    ]);
    const r = summaryReport(l.reports, 'acme', { from: '2026-03-01', to: '2026-03-31' });
    expect(r.totals).toMatchObject({ calls: 2, blocked: 1, prompt_tokens: 200, completion_tokens: 100, cost_usd: 6e-6, billed: 7.8e-6 });
    expect(r.totals.margin_usd).toBeCloseTo(1.8e-6, 12);
    expect(r.totals.markup).toBe(1.3);
    expect(r.days).toHaveLength(31);
    expect(r.days[0]).toMatchObject({ date: '2026-03-01', calls: 2, blocked: 0 });
    expect(r.days[1]).toMatchObject({ date: '2026-03-02', calls: 0, blocked: 1 });
    expect(r.days[2]).toMatchObject({ date: '2026-03-03', calls: 0, blocked: 0, cost_usd: 0 });
    expect(r.by_model.map((m) => [m.model, m.calls, m.blocked])).toEqual([['gpt-4o', 1, 0], ['gpt-4o-mini', 1, 1]]);
    expect(r.by_agent.map((a) => [a.agent, a.calls + a.blocked])).toEqual([['(none)', 2], ['bot', 1]]);
    expect(r.by_tag.map((t) => t.tag).sort()).toEqual(['team=a', 'team=b']);

    const daily = dailyReport(l.reports, 'acme', { from: '2026-03-01', to: '2026-03-02' }, { dim: 'model', value: 'gpt-4o' });
    expect(daily.days.map((d) => d.calls)).toEqual([1, 0]);

    const all = customersReport(l.reports, { from: '2026-03-01', to: '2026-03-31' });
    expect(all.customers.map((c) => [c.customer, c.calls + c.blocked])).toEqual([['acme', 3], ['beta', 1]]);
  });

  it('puts a row on the calendar day of the configured time zone', async () => {
    const l = open('America/New_York');
    // 03:00 UTC on March 2nd is still March 1st in New York.
    await l.append(row({ customer: 'acme', ts: at('2026-03-02T03:00:00Z') }));
    const r = dailyReport(l.reports, 'acme', { from: '2026-03-01', to: '2026-03-02' });
    expect(r.days.map((d) => d.calls)).toEqual([1, 0]);
  });

  it('folds tag values past the per-day cap into name=(other), keeping the totals', async () => {
    const l = open('UTC', 3);
    await Promise.all(Array.from({ length: 6 }, (_, i) => l.append(row({ customer: 'acme', ts: at('2026-03-01T10:00:00Z') + i, tags: { session: `s${i}` } }))));
    const r = summaryReport(l.reports, 'acme', { from: '2026-03-01', to: '2026-03-01' });
    const tags = Object.fromEntries(r.by_tag.map((t) => [t.tag, t.calls]));
    expect(Object.keys(tags)).toHaveLength(4);
    expect(tags['session=(other)']).toBe(3);
    expect(r.by_tag.reduce((s, t) => s + t.calls, 0)).toBe(6);
  });

  it('keeps reports and aggregates whole after retention deletes the rows behind them', async () => {
    const l = open();
    const old = at('2026-01-10T10:00:00Z');
    await Promise.all(Array.from({ length: 25 }, (_, i) => l.append(row({ customer: 'acme', ts: old + i, idempotency_key: `k${i}` }))));
    await l.append(row({ customer: 'acme', ts: at('2026-03-01T10:00:00Z') }));
    const retention = new Retention(l, { usageRowsMs: 30 * 86_400_000, idempotencyWindowMs: 86_400_000, everyMs: 3_600_000, batchSize: 10, pauseMs: 1 }, () => {}, () => at('2026-03-02T00:00:00Z'));
    const result = await retention.compact();
    expect(result.rows).toBe(25);
    expect(result.idempotencyKeys).toBe(25);
    expect([...l.rows({ customer: 'acme' })]).toHaveLength(1);
    expect(await l.findIdempotent('acme', 'k3', old, 86_400_000)).toBeUndefined();
    expect(summaryReport(l.reports, 'acme', { from: '2026-01-01', to: '2026-01-31' }).totals.calls).toBe(25);
    expect(l.aggregate('c:acme', 'month:2026-01').calls).toBe(25);
  });
});
