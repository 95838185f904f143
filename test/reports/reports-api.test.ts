import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { sleep } from '../helpers/fixtures.js';
import { DAY, REPORT_NOW, previousMonth, seedLedger, usageRow } from './seed-ledger.js';
import type { UsageRecord } from '../../src/store/usage-record.js';

// Billing reports over the admin API of the real proxy, on a ledger seeded
// through the real write path: a full previous month for two customers
// (one billed at cost × 1.3), a bulk customer for exports, and rows old
// enough for retention to delete. The proxy's clock starts at REPORT_NOW, and
// every row is placed relative to it.

let tg: Tollgate;
const prev = previousMonth(REPORT_NOW);
const acme: UsageRecord[] = [];
const OLD_TS = REPORT_NOW - 150 * DAY;
const BULK = 12_000;

beforeAll(async () => {
  const rows: UsageRecord[] = [];
  for (let d = 0; d < prev.days; d++) {
    const t = prev.start + d * DAY + 3_600_000;
    acme.push(usageRow({ customer: 'acme', ts: t, agent: 'bot', tags: { team: 'a' }, cost_nano: 1_000_000 + d * 1000, prompt_tokens: 100 + d, completion_tokens: 50 }));
    acme.push(usageRow({ customer: 'acme', ts: t + 1, model: 'gpt-4o', model_requested: 'gpt-4o', tags: { team: 'b' }, cost_nano: 5_000_000, prompt_tokens: 300, completion_tokens: 90 }));
    if (d % 7 === 0) acme.push(usageRow({ customer: 'acme', ts: t + 2, decision: 'blocked', reason: 'budget_exceeded', status: 402, model: null, cost_nano: 0, prompt_tokens: 0, completion_tokens: 0 }));
  }
  rows.push(...acme);
  for (let i = 0; i < 10; i++) rows.push(usageRow({ customer: 'beta', ts: prev.start + i * DAY, cost_nano: 2_000_000, billed_nano: 2_000_000 }));
  for (let i = 0; i < 40; i++) rows.push(usageRow({ customer: 'acme', ts: OLD_TS + i }));
  const bulkStart = REPORT_NOW - 2 * DAY;
  for (let i = 0; i < BULK; i++) rows.push(usageRow({ customer: 'bulk', ts: bulkStart + i, agent: i % 2 ? 'even' : 'odd', decision: i % 10 ? 'allowed' : 'blocked' }));
  const dataDir = await seedLedger(rows);
  tg = await startTollgate({
    dataDir,
    retention: { usageRows: '90d', every: '1h', batchSize: 25 },
    customers: [{ id: 'acme', keys: ['tg-acme-key-1'], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] }],
  }, { dataDir, shards: 2, clockStart: REPORT_NOW });
});

afterAll(async () => {
  await tg?.stop();
});

const sum = (rows: UsageRecord[], f: (r: UsageRecord) => number) => rows.reduce((s, r) => s + f(r), 0);

describe('billing reports', () => {
  it('answers the daily report in the contract shape, JSON and CSV', async () => {
    const from = `${prev.month}-01`;
    const to = `${prev.month}-03`;
    const r = await tg.admin(`/admin/reports/daily?customer=acme&from=${from}&to=${to}`);
    expect(r.days.map((d: any) => d.date)).toEqual([`${prev.month}-01`, `${prev.month}-02`, `${prev.month}-03`]);
    expect(r.days[0]).toMatchObject({ calls: 2, blocked: 1, prompt_tokens: 400, completion_tokens: 140 });
    expect(r.days[0].cost_usd).toBeCloseTo(0.006, 12);
    expect(r.days[0].billed).toBeCloseTo(0.0078, 12);
    const csv = (await tg.adminText(`/admin/reports/daily?customer=acme&from=${from}&to=${to}&format=csv`)).trim().split('\n');
    expect(csv[0]).toBe('date,calls,blocked,prompt_tokens,completion_tokens,cached_tokens,cost_usd,billed,margin_usd,markup,shadow_exceeded');
    expect(csv[1]).toBe(`${prev.month}-01,2,1,400,140,0,0.006,0.0078,0.0018,1.3,0`);
    expect(csv).toHaveLength(4);
  });

  it('totals a month with cost against billed, blocked counts and breakdowns by model, agent and tag', async () => {
    const r = await tg.admin(`/admin/reports/monthly?customer=acme&month=${prev.month}`);
    const allowed = acme.filter((x) => x.decision === 'allowed');
    expect(r.totals.calls).toBe(allowed.length);
    expect(r.totals.blocked).toBe(acme.length - allowed.length);
    expect(r.totals.prompt_tokens).toBe(sum(allowed, (x) => x.prompt_tokens));
    expect(r.totals.cost_usd).toBeCloseTo(sum(allowed, (x) => x.cost_nano) / 1e9, 9);
    expect(r.totals.billed).toBeCloseTo(sum(allowed, (x) => x.billed_nano) / 1e9, 9);
    expect(r.totals.margin_usd).toBeCloseTo(sum(allowed, (x) => x.billed_nano - x.cost_nano) / 1e9, 9);
    expect(r.totals.markup).toBe(1.3);
    expect(r.days).toHaveLength(prev.days);
    expect(Object.fromEntries(r.by_model.map((m: any) => [m.model, m.calls]))).toEqual({ 'gpt-4o': prev.days, 'gpt-4o-mini': prev.days });
    expect(Object.fromEntries(r.by_agent.map((a: any) => [a.agent, a.calls + a.blocked]))).toEqual({ bot: prev.days, '(none)': prev.days + Math.ceil(prev.days / 7) });
    expect(r.by_tag.map((t: any) => t.tag).sort()).toEqual(['team=a', 'team=b']);

    const csv = (await tg.adminText(`/admin/reports/monthly?customer=acme&month=${prev.month}&format=csv`)).trim().split('\n');
    expect(csv[0]).toBe('customer,from,to,section,key,calls,blocked,prompt_tokens,completion_tokens,cached_tokens,cost_usd,billed,margin_usd,markup,shadow_exceeded');
    expect(csv.filter((l) => l.split(',')[3] === 'model')).toHaveLength(2);
    expect(csv.filter((l) => l.split(',')[3] === 'day')).toHaveLength(prev.days);

    const byAgent = await tg.admin(`/admin/reports/breakdown?customer=acme&month=${prev.month}&by=agent`);
    expect(byAgent.rows.map((x: any) => x.agent).sort()).toEqual(['(none)', 'bot']);
  });

  it('shows every customer\'s margin for a month', async () => {
    const r = await tg.admin(`/admin/reports/customers?month=${prev.month}`);
    const beta = r.customers.find((c: any) => c.customer === 'beta');
    expect(beta).toMatchObject({ calls: 10, margin_usd: 0, markup: 1 });
    expect(r.customers.find((c: any) => c.customer === 'acme').markup).toBe(1.3);
    expect(r.customers.find((c: any) => c.customer === 'bulk')).toBeUndefined(); // nothing that month
  });

  it('reports the month of the proxy\'s clock when no month is given', async () => {
    const r = await tg.admin('/admin/reports/customers');
    expect([r.from, r.to]).toEqual(['2026-06-01', '2026-06-30']);
    expect(r.customers.map((c: any) => c.customer)).toEqual(['bulk']);
    expect(r.customers[0]).toMatchObject({ calls: BULK - BULK / 10, blocked: BULK / 10 });
  });

  it('lists a customer\'s rows with filters, page by page, and exports the same rows as CSV', async () => {
    const page1 = await tg.admin('/admin/reports/usage?customer=bulk&agent=even&decision=allowed&limit=1000');
    expect(page1.rows).toHaveLength(1000);
    expect(page1.rows.every((r: any) => r.agent === 'even' && r.decision === 'allowed')).toBe(true);
    let total = page1.rows.length;
    for (let cursor = page1.next_cursor; cursor;) {
      const p = await tg.admin(`/admin/reports/usage?customer=bulk&agent=even&decision=allowed&limit=1000&cursor=${cursor}`);
      total += p.rows.length;
      cursor = p.next_cursor;
    }
    const expected = Array.from({ length: BULK }, (_, i) => i).filter((i) => i % 2 === 1 && i % 10 !== 0).length;
    expect(total).toBe(expected);
    // No limit: the reader process streams it.
    const csv = (await tg.adminText('/admin/reports/usage?customer=bulk&agent=even&decision=allowed&format=csv')).trim().split('\n');
    expect(csv.length - 1).toBe(expected);
    expect(new Set(csv.slice(1).map((l) => l.split(',')[0])).size).toBe(expected);
  });

  it('streams the full usage export with every row once', async () => {
    // From the previous month on: older rows are retention's, which may delete them between the two reads.
    const from = new Date(prev.start).toISOString();
    const r = await fetch(`${tg.url}/admin/usage?format=csv&from=${from}`, { headers: { authorization: 'Bearer test-admin-token-123' } });
    expect(r.headers.get('content-type')).toMatch(/text\/csv/);
    const lines = (await r.text()).trim().split('\n');
    const { rows } = await tg.admin(`/admin/usage?limit=100000&from=${from}`);
    expect(rows).toHaveLength(acme.length + 10 + BULK);
    expect(lines.length - 1).toBe(rows.length);
    expect(lines[1]!.split(',')[0]).toBe(rows[0].request_id);
  });

  it('names the bad parameter, and guards every report with the admin token', async () => {
    const bad = async (path: string) => (await fetch(`${tg.url}${path}`, { headers: { authorization: 'Bearer test-admin-token-123' } }));
    expect((await (await bad('/admin/reports/monthly?customer=acme&month=2026-13')).json()).error.message).toMatch(/^month:/);
    expect((await (await bad('/admin/reports/daily?customer=acme&from=2026-05-02&to=2026-05-01')).json()).error.message).toMatch(/^from:/);
    expect((await bad('/admin/reports/daily?customer=nobody')).status).toBe(404);
    expect((await bad('/admin/reports/breakdown?customer=acme&by=colour')).status).toBe(400);
    expect((await fetch(`${tg.url}/admin/reports/customers`)).status).toBe(401);
  });

  it('deletes rows past retention in the background and keeps the reports they fed', async () => {
    const oldDay = new Date(OLD_TS).toISOString().slice(0, 10);
    const old = () => tg.admin(`/admin/usage?customer=acme&to=${new Date(OLD_TS + DAY).toISOString()}&limit=1000`);
    expect((await tg.admin(`/admin/reports/daily?customer=acme&from=${oldDay}&to=${oldDay}`)).days[0].calls).toBe(40);
    let left = (await old()).rows.length;
    for (let i = 0; i < 60 && left > 0; i++) {
      await sleep(250);
      left = (await old()).rows.length;
    }
    expect(left).toBe(0);
    expect((await tg.admin(`/admin/reports/daily?customer=acme&from=${oldDay}&to=${oldDay}`)).days[0].calls).toBe(40);
    // Rows inside retention stay.
    expect((await tg.admin(`/admin/usage?customer=acme&from=${new Date(prev.start).toISOString()}&limit=1000`)).rows).toHaveLength(acme.length);
  });
});
