import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, expectedCostUsd, providers, sleep } from '../helpers/fixtures.js';

// A year end lived through by the real proxy: its clock starts seconds before
// 2027-01-01T00:00:00Z (TOLLGATE_CLOCK_START) and runs on in real time, in
// the main thread and every shard. December's spend stays in December; the
// first call of January starts a fresh month: not degraded on last month's
// spend, its row dated in January, the budget's resets_at a month later.

const PROMPT = 40;
const OUT = 20;
const CALL_USD = expectedCostUsd('gpt-4o-mini', { prompt: PROMPT, completion: OUT });
const NANO_USD = expectedCostUsd('gpt-4.1-nano', { prompt: PROMPT, completion: OUT });
// 25 s before midnight: the proxy's start and the December calls must fit in it, and a start
// under heavy load (other suites on two cores) once took more than the 12 s this had.
const START = Date.parse('2026-12-31T23:59:35Z');
const MIDNIGHT = Date.parse('2027-01-01T00:00:00Z');

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT });
  const month = (limit: number, thresholds: unknown[] = []) => ({ limit, unit: 'USD', period: 'month', burst: 10, thresholds });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [
      // One call takes acme past its 50% degrade threshold.
      { id: 'acme', keys: [CUSTOMER_KEY], budgets: [month(CALL_USD * 1.5, [{ at: 0.5, action: 'degrade', model: 'gpt-4.1-nano', notify: [] }])] },
      // Watched to see the proxy's month turn; acme's own counters are left alone until its next call.
      { id: 'probe', keys: ['tg-probe-key-1'], budgets: [month(1)] },
    ],
  }, { clockStart: START });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const chat = () => new OpenAI({ apiKey: CUSTOMER_KEY, baseURL: `${tg.url}/v1`, maxRetries: 0 })
  .chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hello' }], max_tokens: OUT });
const budgetOf = async (customer: string) => (await tg.admin(`/admin/customers/${customer}`)).budgets[0];

describe('a month rolling over in the running proxy', () => {
  it('keeps December spend in December and starts January fresh, undegraded', async () => {
    // December: the first call spends 2/3 of the limit, so the second is degraded.
    expect((await chat()).model).toBe('gpt-4o-mini');
    expect((await chat()).model).toBe('gpt-4.1-nano');
    const december = await tg.admin('/admin/usage?customer=acme');
    expect(december.rows.map((r: any) => r.ts.slice(0, 10))).toEqual(['2026-12-31', '2026-12-31']);
    expect(tg.now()).toBeLessThan(MIDNIGHT); // the calls above were made in December (else the start was too slow)
    expect((await budgetOf('probe')).resets_at).toBe('2027-01-01T00:00:00.000Z');

    // Wait for the proxy's clock, not this process's, to reach January.
    for (let i = 0; i < 200 && (await budgetOf('probe')).resets_at !== '2027-02-01T00:00:00.000Z'; i++) await sleep(200);
    expect((await budgetOf('probe')).resets_at).toBe('2027-02-01T00:00:00.000Z');

    // January: last month's spend no longer degrades the call.
    const first = await chat();
    expect(first.model).toBe('gpt-4o-mini');
    const { rows } = await tg.admin('/admin/usage?customer=acme');
    expect(rows).toHaveLength(3);
    expect(rows[2]).toMatchObject({ model: 'gpt-4o-mini', reason: null });
    expect(rows[2].ts.slice(0, 10)).toBe('2027-01-01');
    const acme = await budgetOf('acme');
    expect(acme.used).toBeCloseTo(CALL_USD, 9);
    expect(acme.resets_at).toBe('2027-02-01T00:00:00.000Z');

    // Reports follow the same clock: each month has its own calls, and the default month is January.
    const dec = await tg.admin('/admin/reports/monthly?customer=acme&month=2026-12');
    expect(dec.totals.calls).toBe(2);
    expect(dec.totals.cost_usd).toBeCloseTo(CALL_USD + NANO_USD, 9);
    const current = await tg.admin('/admin/reports/monthly?customer=acme');
    expect([current.from, current.to, current.totals.calls]).toEqual(['2027-01-01', '2027-01-31', 1]);
  });
});
