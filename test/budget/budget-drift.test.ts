import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { open } from 'lmdb';
import OpenAI from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { RECORDS } from '../../src/store/ledger.js';
import { launch, startTollgate, ADMIN_TOKEN, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, expectedCostUsd, providers } from '../helpers/fixtures.js';

// Counters you can trust. The test corrupts what counters are seeded from:
// with the proxy stopped it edits the ledger's aggregates in LMDB (the
// rows stay as they were), so after a restart three counters disagree with
// the rows. The drift check sums the rows, finds each, repairs it, and the
// /metrics gauge follows.

const PROMPT = 40;
const OUT = 20;
const CALL_USD = expectedCostUsd('gpt-4o-mini', { prompt: PROMPT, completion: OUT });

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{
      id: 'acme', keys: [CUSTOMER_KEY],
      budgets: [{ limit: 100, unit: 'USD', period: 'month' }, { limit: 1000, unit: 'requests', period: 'month' }, { limit: 1_000_000, unit: 'tokens', period: 'day' }],
      agents: [{ id: 'bot', budgets: [{ limit: 10, unit: 'USD', period: 'week' }] }],
    }],
  }, { clockStart: TEST_CLOCK });
}, 30_000);

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const chat = (agent?: string) => new OpenAI({ apiKey: CUSTOMER_KEY, baseURL: `${tg.url}/v1`, maxRetries: 0, defaultHeaders: agent ? { 'x-tollgate-agent': agent } : {} })
  .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: OUT });
const adminPost = async (path: string) => {
  const r = await fetch(tg.url + path, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
  expect(r.status).toBe(200);
  return r.json() as Promise<any>;
};
const budgets = async () => Object.fromEntries(((await tg.admin('/admin/customers/acme')).budgets as any[]).map((b) => [`${b.unit}/${b.period}`, b]));
const gauge = async (unit: string) => Number(new RegExp(`tollgate_budget_drift\\{unit="${unit}"\\} (\\S+)`).exec(await (await fetch(`${tg.url}/metrics`)).text())?.[1]);

describe('the budget drift check', () => {
  it('finds nothing when every counter equals the ledger', async () => {
    await chat();
    await chat();
    await chat('bot');
    await tg.admin('/admin/customers/acme?agent=bot'); // the agent's slot is live too
    const r = await tg.admin('/admin/budgets/drift?all=true');
    expect(r).toMatchObject({ checked: 4, drifted: 0, repaired: 0, busy: 0 });
    expect(r.budgets.map((b: any) => [b.unit, b.period, b.status, b.drift])).toEqual([
      ['USD', 'month', 'ok', 0], ['requests', 'month', 'ok', 0], ['tokens', 'day', 'ok', 0], ['USD', 'week', 'ok', 0],
    ]);
    expect(r.budgets[1]).toMatchObject({ counter: 3, ledger: 3, rows: 3 });
  });

  it('finds and repairs counters seeded from aggregates corrupted while the proxy was stopped', async () => {
    await tg.stop();
    const day = new Date(tg.now()).toISOString().slice(0, 10);
    const env = open({ path: join(tg.dataDir, 'tollgate.lmdb'), maxDbs: 16, compression: false });
    const aggregates = env.openDB<any, [string, string]>({ name: 'aggregates', ...RECORDS });
    const bump = async (key: [string, string], f: (a: any) => void) => {
      const a = aggregates.get(key);
      expect(a).toBeDefined();
      f(a);
      await aggregates.put(key, a);
    };
    await bump(['c:acme', `month:${day.slice(0, 7)}`], (a) => { a.billed_nano += 5e9; a.calls += 7; });
    await bump(['c:acme', `day:${day}`], (a) => { a.tokens += 999; });
    await env.close();
    tg = await launch(tg.configFile, tg.dataDir);

    // The corrupted aggregate is what the restarted counters start from.
    let b = await budgets();
    expect(b['USD/month'].used).toBeCloseTo(3 * CALL_USD + 5, 9);
    expect(b['requests/month'].used).toBe(10);

    const found = await tg.admin('/admin/budgets/drift');
    expect(found).toMatchObject({ checked: 3, drifted: 3, repaired: 0 });
    const byKey = Object.fromEntries(found.budgets.map((e: any) => [`${e.unit}/${e.period}`, e]));
    expect(byKey['USD/month']).toMatchObject({ customer: 'acme', agent: null, status: 'drift', rows: 3 });
    expect(byKey['USD/month'].drift).toBeCloseTo(5, 9);
    expect(byKey['USD/month'].ledger).toBeCloseTo(3 * CALL_USD, 9);
    expect(byKey['requests/month']).toMatchObject({ counter: 10, ledger: 3, drift: 7, status: 'drift' });
    expect(byKey['tokens/day']).toMatchObject({ drift: 999, status: 'drift' });
    expect(await gauge('USD')).toBeCloseTo(5, 9);
    expect(await gauge('requests')).toBe(7);

    const repaired = await adminPost('/admin/budgets/drift/repair');
    expect(repaired).toMatchObject({ checked: 3, drifted: 3, repaired: 3 });
    expect(repaired.budgets.map((e: any) => e.status)).toEqual(['repaired', 'repaired', 'repaired']);
    expect(await gauge('USD')).toBe(0);
    expect(await gauge('requests')).toBe(0);

    b = await budgets();
    expect(b['USD/month'].used).toBeCloseTo(3 * CALL_USD, 9);
    expect(b['requests/month'].used).toBe(3);
    expect(b['tokens/day'].used).toBe(3 * (PROMPT + OUT));
    expect(await tg.admin('/admin/budgets/drift')).toMatchObject({ drifted: 0, budgets: [] });

    // Calls after the repair keep counter and ledger together.
    await chat();
    expect(await tg.admin('/admin/budgets/drift')).toMatchObject({ drifted: 0, busy: 0 });
    expect((await budgets())['requests/month'].used).toBe(4);
  }, 30_000);

  it('answers only with the admin token', async () => {
    expect((await fetch(`${tg.url}/admin/budgets/drift`)).status).toBe(401);
    expect((await fetch(`${tg.url}/admin/budgets/drift/repair`, { method: 'POST' })).status).toBe(401);
  });
});
