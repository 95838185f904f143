import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { launch, startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { expectedCostUsd, providers } from '../helpers/fixtures.js';

// Customers in America/New_York and Asia/Kolkata (one by its plan) on the
// real proxy, whose clock starts 30 s before midnight in Kolkata on
// 2026-12-31 (TOLLGATE_CLOCK_START). It is restarted past that midnight (the
// counters are seeded again from the ledger) and once more just before the
// New York spring-forward of 2027-03-14. resets_at in the admin view, in a
// 402 and in /balance follows each customer's own calendar.

const PROMPT = 40;
const OUT = 20;
const CALL_USD = expectedCostUsd('gpt-4o-mini', { prompt: PROMPT, completion: OUT });
const NY = 'America/New_York';
const IN = 'Asia/Kolkata';

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const usd = (period: string) => ({ limit: 10, unit: 'USD', period });

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT });
  tg = await startTollgate({
    providers: providers(mock.url),
    balanceCommand: '/balance',
    plans: [{ name: 'india', timeZone: IN, budgets: [usd('quarter')] }],
    customers: [
      { id: 'delhi', plan: 'india', keys: ['tg-delhi-key-1'], budgets: [usd('year'), usd('month')] },
      { id: 'nyc', timeZone: NY, keys: ['tg-nyc-key-1'], budgets: [usd('year'), usd('quarter'), usd('month'), usd('day')] },
      { id: 'tight', timeZone: NY, keys: ['tg-tight-key-1'], budgets: [{ limit: 1, unit: 'requests', period: 'quarter' }] },
      { id: 'utc', keys: ['tg-utc-key-1'], budgets: [usd('year')] },
    ],
  }, { clockStart: '2026-12-31T18:29:30Z' });
}, 30_000);

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const client = (key: string) => new OpenAI({ apiKey: key, baseURL: `${tg.url}/v1`, maxRetries: 0 });
const chat = (key: string, content = 'hello') => client(key).chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content }], max_tokens: OUT });
const budgets = async (id: string) => Object.fromEntries(((await tg.admin(`/admin/customers/${id}`)).budgets as any[]).map((b) => [b.period, b]));

async function restartAt(clock: string) {
  await tg.stop();
  tg = await launch(tg.configFile, tg.dataDir, { TOLLGATE_CLOCK_START: clock });
}

describe('budgets on their customer\'s calendar', () => {
  it('gives every calendar period the reset time of its customer\'s or plan\'s zone', async () => {
    await chat('tg-delhi-key-1');
    await chat('tg-nyc-key-1');
    expect(tg.now()).toBeLessThan(Date.parse('2026-12-31T18:30:00Z')); // still 2026 in Kolkata
    const delhi = await budgets('delhi');
    for (const p of ['year', 'quarter', 'month']) {
      expect(delhi[p].resets_at).toBe('2026-12-31T18:30:00.000Z');
      expect(delhi[p].used).toBeCloseTo(CALL_USD, 9);
    }
    const nyc = await budgets('nyc');
    for (const p of ['year', 'quarter', 'month', 'day']) expect(nyc[p].resets_at).toBe('2027-01-01T05:00:00.000Z');
    expect((await budgets('utc')).year.resets_at).toBe('2027-01-01T00:00:00.000Z');
  });

  it('names its zone\'s reset time in a refusal and in /balance', async () => {
    await chat('tg-tight-key-1');
    const refused = await chat('tg-tight-key-1').catch((e) => e);
    expect(refused.status).toBe(402);
    expect(refused.error.scope).toMatchObject({ customer: 'tight', period: 'quarter', unit: 'requests', resets_at: '2027-01-01T05:00:00.000Z' });
    expect(refused.error.message).toContain('quarterly');
    const balance = await chat('tg-delhi-key-1', '/balance');
    expect(balance.choices[0]!.message.content).toContain('resets 2026-12-31T18:30:00.000Z');
  });

  it('starts a new Kolkata year at 18:30 UTC while New York keeps 2026, after a restart', async () => {
    await restartAt('2026-12-31T18:31:00Z');
    const delhi = await budgets('delhi');
    expect(delhi.year).toMatchObject({ used: 0, resets_at: '2027-12-31T18:30:00.000Z' });
    expect(delhi.quarter).toMatchObject({ used: 0, resets_at: '2027-03-31T18:30:00.000Z' });
    expect(delhi.month).toMatchObject({ used: 0, resets_at: '2027-01-31T18:30:00.000Z' });
    // New York's December 31 goes on: its spend comes back from the ledger.
    const nyc = await budgets('nyc');
    for (const p of ['year', 'quarter', 'month', 'day']) {
      expect(nyc[p].resets_at).toBe('2027-01-01T05:00:00.000Z');
      expect(nyc[p].used).toBeCloseTo(CALL_USD, 9);
    }
    // The refused quarter is still spent: its one request came back from the ledger too.
    expect((await chat('tg-tight-key-1').catch((e) => e)).status).toBe(402);
    expect((await budgets('utc')).year.resets_at).toBe('2027-01-01T00:00:00.000Z');
  }, 30_000);

  it('ends a New York day 23 hours after it began on the spring-forward date', async () => {
    await restartAt('2027-03-14T06:59:50Z'); // 01:59:50 EST; clocks jump to 03:00 EDT at 07:00Z
    const nyc = await budgets('nyc');
    expect(nyc.day.resets_at).toBe('2027-03-15T04:00:00.000Z');
    expect(nyc.month.resets_at).toBe('2027-04-01T04:00:00.000Z');
    expect(nyc.quarter.resets_at).toBe('2027-04-01T04:00:00.000Z');
    expect(nyc.year).toMatchObject({ used: 0, resets_at: '2028-01-01T05:00:00.000Z' });
    // Kolkata's Q1 2027 had no call (delhi's one call was in its 2026).
    const delhi = await budgets('delhi');
    expect(delhi.quarter).toMatchObject({ used: 0, resets_at: '2027-03-31T18:30:00.000Z' });
    expect(delhi.month.resets_at).toBe('2027-03-31T18:30:00.000Z');
  }, 30_000);
});
