import { describe, expect, it } from 'vitest';
import { BudgetTable } from '../../src/budget/budget-table.js';
import { decide, extendHolds, settleHolds } from '../../src/budget/decide.js';
import { limitToCounter, type BudgetRef } from '../../src/budget/budget-ref.js';
import { PeriodClock } from '../../src/budget/periods.js';

const NOW = Date.UTC(2031, 5, 18, 12);
const clock = new PeriodClock('UTC');

function ref(slot: number, unit: string, limit: number): BudgetRef {
  const kind = unit === 'tokens' ? 'tokens' : unit === 'requests' ? 'requests' : 'money';
  return { slot, kind, unit, rate: 1, period: 'month', limit, burst: 0, thresholds: [], key: `k${slot}`, scope: { customer: 'acme', agent: null, source: 'customer' } };
}

function table(refs: BudgetRef[]) {
  const t = BudgetTable.create(8, 1);
  for (const r of refs) {
    const { limit, cap } = limitToCounter(r);
    t.init(r.slot, { cap, limit, spent: 0n, periodStart: clock.window(r.period, NOW).start });
  }
  return t;
}

function held(refs: BudgetRef[], t: BudgetTable, tokens: number, usd: number) {
  const d = decide(t, refs, { billedPico: usd * 1e12, tokens, requests: 1 }, 0, NOW, clock);
  if (!d.allow) throw new Error('not admitted');
  return d.holds;
}

describe('extending a call\'s holds', () => {
  it('raises the hold on every budget when all have room, and settle returns all of it', () => {
    const refs = [ref(0, 'USD', 1), ref(1, 'tokens', 1000), ref(2, 'requests', 5)];
    const t = table(refs);
    const holds = held(refs, t, 100, 0.1);
    expect(extendHolds(t, holds, { billedPico: 0.2e12, tokens: 200, requests: 0 }, 0, NOW, clock)).toBe(true);
    expect(t.read(0).reserved).toBe(300_000_000n);
    expect(t.read(1).reserved).toBe(300n);
    expect(t.read(2).reserved).toBe(1n); // a longer answer is still one request
    settleHolds(t, holds, { billedPico: 0.25e12, tokens: 250, requests: 1 }, 0, false);
    expect(t.read(0)).toMatchObject({ reserved: 0n, committed: 250_000_000n });
    expect(t.read(1)).toMatchObject({ reserved: 0n, committed: 250n });
  });

  it('extends nothing when one budget cannot cover the extra amount', () => {
    const refs = [ref(0, 'USD', 1), ref(1, 'tokens', 250)];
    const t = table(refs);
    const holds = held(refs, t, 100, 0.1);
    expect(extendHolds(t, holds, { billedPico: 0.2e12, tokens: 200, requests: 0 }, 0, NOW, clock)).toBe(false);
    expect(t.read(0).reserved).toBe(100_000_000n);
    expect(t.read(1).reserved).toBe(100n);
    expect(holds.map((h) => h.amount)).toEqual([100_000_000n, 100n]);
    // What is left still fits.
    expect(extendHolds(t, holds, { billedPico: 0.1e12, tokens: 150, requests: 0 }, 0, NOW, clock)).toBe(true);
    expect(t.read(1).reserved).toBe(250n);
  });
});
