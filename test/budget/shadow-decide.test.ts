import { describe, expect, it } from 'vitest';
import { BudgetTable } from '../../src/budget/budget-table.js';
import { affordableOutputTokens, decide } from '../../src/budget/decide.js';
import { limitToCounter, type BudgetRef } from '../../src/budget/budget-ref.js';
import { PeriodClock } from '../../src/budget/periods.js';

// The decision with shadow budgets (enforce: false): never a refusal from
// one, but the reservation is made and the breach comes back as a value.

const NOW = Date.UTC(2026, 10, 23, 12);
const clock = new PeriodClock('UTC');
const CALL = { billedPico: 0, tokens: 0, requests: 1 };

function ref(slot: number, limit: number, enforce: boolean, unit = 'requests'): BudgetRef {
  const kind = unit === 'tokens' ? 'tokens' : unit === 'requests' ? 'requests' : 'money';
  return { slot, kind, unit, rate: 1, period: 'month', timeZone: 'UTC', enforce, limit, burst: 0, thresholds: [], key: `k${slot}`, scope: { customer: 'acme', agent: null, source: 'customer' } };
}

function table(refs: BudgetRef[], opts: { leased?: boolean } = {}) {
  const t = BudgetTable.create(8, 1, opts);
  for (const r of refs) {
    const { limit, cap } = limitToCounter(r);
    t.init(r.slot, { cap, limit, spent: 0n, periodStart: clock.window(r.period, NOW).start });
  }
  return t;
}

describe('a shadow budget in the decision', () => {
  it('allows every call, reserving past its limit and naming itself once it would refuse', () => {
    const shadow = ref(0, 2, false);
    const t = table([shadow]);
    const results = [1, 2, 3, 4].map(() => decide(t, [shadow], CALL, 0, NOW, clock));
    expect(results.map((d) => d.allow)).toEqual([true, true, true, true]);
    expect(results.map((d) => (d.allow && d.shadow ? d.shadow.key : null))).toEqual([null, null, 'k0', 'k0']);
    expect(t.read(0)).toMatchObject({ committed: 4n, reserved: 4n });
  });

  it('is not flagged when an enforcing budget refuses, and gives its hold back', () => {
    const shadow = ref(0, 1, false);
    const enforced = ref(1, 1, true);
    const t = table([shadow, enforced]);
    expect(decide(t, [shadow, enforced], CALL, 0, NOW, clock)).toMatchObject({ allow: true });
    const d = decide(t, [shadow, enforced], CALL, 0, NOW, clock);
    expect(d).toMatchObject({ allow: false, deny: 'budget_exceeded' });
    expect((d as { ref: BudgetRef }).ref.key).toBe('k1');
    expect(t.read(0).committed).toBe(1n);
  });

  it('does not limit the output tokens a call may ask for', () => {
    const shadow = ref(0, 10, false, 'tokens');
    const t = table([shadow]);
    expect(affordableOutputTokens(t, [shadow], { billedPico: 0, tokens: 50 }, 0, NOW, clock)).toBe(Infinity);
  });

  it('judges a leased slot against the budget, not against the lease this node holds', () => {
    const shadow = ref(0, 5, false);
    const t = table([shadow], { leased: true });
    t.setLimit(0, 1n, 5n); // this node holds a lease of 1 request
    t.setBase(0, 3n); // other nodes settled 3
    const first = decide(t, [shadow], CALL, 0, NOW, clock); // 3 + 0 + 1 <= 5
    const second = decide(t, [shadow], CALL, 0, NOW, clock); // 3 + 1 + 1 <= 5
    const third = decide(t, [shadow], CALL, 0, NOW, clock); // 3 + 2 + 1 > 5
    expect([first, second, third].map((d) => d.allow && !!d.shadow)).toEqual([false, false, true]);
  });
});

describe('BudgetTable.repairSpent', () => {
  it('sets spent and moves committed by the same amount, holds untouched', () => {
    const t = table([ref(0, 100, true)]);
    t.tryReserve(0, 4n, 0);
    t.settle(0, 0n, 10n, 0);
    expect(t.repairSpent(0, 10n, 7n)).toBe(true);
    expect(t.read(0)).toMatchObject({ spent: 7n, reserved: 4n, committed: 11n });
  });

  it('refuses when a settle landed since the value was read', () => {
    const t = table([ref(0, 100, true)]);
    t.settle(0, 0n, 10n, 0);
    t.settle(0, 0n, 1n, 0);
    expect(t.repairSpent(0, 10n, 7n)).toBe(false);
    expect(t.read(0)).toMatchObject({ spent: 11n, committed: 11n });
  });
});
