import { describe, expect, it } from 'vitest';
import { BudgetTable } from '../../src/budget/budget-table.js';
import { limitToCounter, type BudgetRef } from '../../src/budget/budget-ref.js';
import { SpendAnomaly } from '../../src/alerts/spend-anomaly.js';

const ref = (thresholds: BudgetRef['thresholds'] = []): BudgetRef => ({
  slot: 0, kind: 'money', unit: 'USD', rate: 1, period: 'month', limit: 100, burst: 0, thresholds, key: 'k',
  scope: { customer: 'acme', agent: null, source: 'customer' },
});

function tableWith(r: BudgetRef) {
  const t = BudgetTable.create(2, 1);
  const { cap, limit } = limitToCounter(r);
  t.init(0, { cap, limit, spent: 0n, periodStart: 0 });
  return t;
}

const spend = (t: BudgetTable, usd: number) => t.settle(0, 0n, BigInt(Math.round(usd * 1e9)), 0);

describe('spend anomaly', () => {
  it('flags a burst far above the trailing rate, and not steady spend', () => {
    const r = ref();
    const t = tableWith(r);
    const a = new SpendAnomaly({ factor: 5, windowMs: 60_000, baselineMs: 3_600_000, minNano: 1e9 });
    let now = 0;
    // An hour of steady $0.10 per minute: nothing.
    for (let i = 0; i < 60; i++) {
      spend(t, 0.1);
      now += 60_000;
      expect(a.sample(t, [r], now)).toEqual([]);
    }
    // Then $5 in one minute: 50× the baseline rate.
    spend(t, 5);
    now += 60_000;
    const spikes = a.sample(t, [r], now);
    expect(spikes).toHaveLength(1);
    expect(spikes[0]!.recentNano).toBeCloseTo(5e9, -3);
  });

  it('ignores spikes below the minimum amount', () => {
    const r = ref();
    const t = tableWith(r);
    const a = new SpendAnomaly({ factor: 5, windowMs: 60_000, baselineMs: 3_600_000, minNano: 10e9 });
    let now = 0;
    for (let i = 0; i < 10; i++) { spend(t, 0.01); now += 60_000; a.sample(t, [r], now); }
    spend(t, 5);
    expect(a.sample(t, [r], now + 60_000)).toEqual([]);
  });
});
