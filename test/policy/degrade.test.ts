import { describe, expect, it } from 'vitest';
import { BudgetTable } from '../../src/budget/budget-table.js';
import { limitToCounter, type BudgetRef } from '../../src/budget/budget-ref.js';
import { PeriodClock } from '../../src/budget/periods.js';
import { degradeTarget } from '../../src/policy/degrade.js';

// Which model a scope degrades to, decided on the budget counters of the
// period the call is in (pure: the clock is a parameter).

const JUNE = Date.parse('2026-06-20T12:00:00Z');
const JUNE_LAST = Date.parse('2026-06-30T23:59:59.999Z');
const JULY_FIRST = Date.parse('2026-07-01T00:00:00Z');
const clock = new PeriodClock('UTC');

const ref = (thresholds: BudgetRef['thresholds'], period: BudgetRef['period'] = 'month'): BudgetRef => ({
  slot: 0, kind: 'money', unit: 'USD', rate: 1, period, limit: 100, burst: 0, thresholds, key: 'k',
  scope: { customer: 'acme', agent: null, source: 'customer' },
});

function tableWith(r: BudgetRef, periodStart: number) {
  const t = BudgetTable.create(2, 1);
  const { cap, limit } = limitToCounter(r);
  t.init(0, { cap, limit, spent: 0n, periodStart });
  return t;
}

const spend = (t: BudgetTable, usd: number) => t.settle(0, 0n, BigInt(Math.round(usd * 1e9)), 0);

describe('degrade thresholds', () => {
  it('names the degrade model once spend reaches its threshold, the highest reached winning', () => {
    const r = ref([{ at: 0.5, action: 'degrade', model: 'small', notify: [] }, { at: 0.9, action: 'degrade', model: 'tiny', notify: [] }]);
    const t = tableWith(r, clock.window('month', JUNE).start);
    expect(degradeTarget(t, [r], clock, JUNE)).toBeUndefined();
    spend(t, 50);
    expect(degradeTarget(t, [r], clock, JUNE)?.model).toBe('small');
    spend(t, 40);
    expect(degradeTarget(t, [r], clock, JUNE)?.model).toBe('tiny');
  });

  it('does not degrade the first call of a new month on last month\'s spend', () => {
    const r = ref([{ at: 0.8, action: 'degrade', model: 'small', notify: [] }]);
    const t = tableWith(r, clock.window('month', JUNE).start);
    spend(t, 95);
    expect(degradeTarget(t, [r], clock, JUNE_LAST)?.model).toBe('small');
    expect(degradeTarget(t, [r], clock, JULY_FIRST)).toBeUndefined();
    // The slot now counts July: July's own spend degrades again.
    spend(t, 80);
    expect(degradeTarget(t, [r], clock, JULY_FIRST + 1000)?.model).toBe('small');
  });

  it('starts a daily budget over at midnight', () => {
    const r = ref([{ at: 0.5, action: 'degrade', model: 'small', notify: [] }], 'day');
    const t = tableWith(r, clock.window('day', JUNE_LAST).start);
    spend(t, 60);
    expect(degradeTarget(t, [r], clock, JUNE_LAST)?.model).toBe('small');
    expect(degradeTarget(t, [r], clock, JULY_FIRST)).toBeUndefined();
  });

  it('puts the hard stop at a block threshold below limit + burst', () => {
    expect(limitToCounter({ kind: 'money', limit: 100, burst: 0.1, thresholds: [] }).cap).toBe(110_000_000_000n);
    expect(limitToCounter({ kind: 'money', limit: 100, burst: 0.1, thresholds: [{ at: 0.95, action: 'block', notify: [] }] }).cap).toBe(95_000_000_000n);
  });
});
