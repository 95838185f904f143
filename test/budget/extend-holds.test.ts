import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BudgetTable } from '../../src/budget/budget-table.js';
import { decide, extendHolds, settleHolds, type Hold } from '../../src/budget/decide.js';
import { counterAmount, limitToCounter, type BudgetRef, type CallAmounts } from '../../src/budget/budget-ref.js';
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
  it('keeps a budget in its own time zone in its own period: a growth between the zones\' midnights does not reset its spend', () => {
    // 01:00 UTC is 10:00 in Tokyo: the Tokyo day began at 15:00 UTC the day before, the clock's (UTC) day an hour ago.
    const at = Date.UTC(2031, 5, 18, 1);
    const tokyo: BudgetRef = { ...ref(0, 'tokens', 1000), period: 'day', timeZone: 'Asia/Tokyo' };
    const t = BudgetTable.create(8, 1);
    const { limit, cap } = limitToCounter(tokyo);
    t.init(0, { cap, limit, spent: 900n, periodStart: clock.window('day', at, 'Asia/Tokyo').start });
    const d = decide(t, [tokyo], { billedPico: 0, tokens: 50, requests: 1 }, 0, at, clock);
    if (!d.allow) throw new Error('not admitted');
    // 900 spent + 50 held: 500 more would pass the 1000 cap.
    expect(extendHolds(t, d.holds, { billedPico: 0, tokens: 500, requests: 0 }, 0, at, clock)).toBe(false);
    expect(t.read(0)).toMatchObject({ committed: 950n, reserved: 50n });
    expect(extendHolds(t, d.holds, { billedPico: 0, tokens: 50, requests: 0 }, 0, at, clock)).toBe(true);
  });

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

  it('gives back what it added to the budgets before the one that refused, and leaves the holds as they were', () => {
    const refs = [ref(0, 'USD', 1), ref(1, 'requests', 5), ref(2, 'tokens', 1000), ref(3, 'tokens', 250)];
    const t = table(refs);
    const holds = held(refs, t, 100, 0.1);
    expect(extendHolds(t, holds, { billedPico: 0.2e12, tokens: 200, requests: 0 }, 0, NOW, clock)).toBe(false);
    expect(refs.map((r) => t.read(r.slot).reserved)).toEqual([100_000_000n, 1n, 100n, 100n]);
    expect(holds.map((h) => h.amount)).toEqual([100_000_000n, 1n, 100n, 100n]);
  });

  it('leaves the budgets and holds as the extension that listed its amounts did, growth by growth', () => {
    // What extendHolds did before it raised the holds in place: the amounts listed, raised once all were reserved.
    function listed(t: BudgetTable, holds: Hold[], extra: CallAmounts): boolean {
      const added: bigint[] = [];
      for (const h of holds) {
        t.rollover(h.ref.slot, clock.window(h.ref.period, NOW).start);
        const amount = counterAmount(h.ref, extra, true);
        if (amount > 0n && !t.tryReserve(h.ref.slot, amount, 0)) {
          for (let i = 0; i < added.length; i++) t.release(holds[i]!.ref.slot, added[i]!, 0);
          return false;
        }
        added.push(amount);
      }
      for (let i = 0; i < holds.length; i++) holds[i]!.amount += added[i]!;
      return true;
    }
    const budget = fc.record({ unit: fc.constantFrom('USD', 'tokens', 'requests'), limit: fc.integer({ min: 1, max: 3000 }) });
    const extra = fc.record({ billedPico: fc.integer({ min: 0, max: 2e12 }), tokens: fc.integer({ min: 0, max: 800 }), requests: fc.constant(0) });
    fc.assert(fc.property(fc.array(budget, { minLength: 1, maxLength: 5 }), fc.array(extra, { minLength: 1, maxLength: 12 }), (budgets, extras) => {
      const refs = budgets.map((b, i) => ref(i, b.unit, b.unit === 'USD' ? b.limit / 100 : b.limit));
      const [t1, t2] = [table(refs), table(refs)];
      const first = { billedPico: 0, tokens: 0, requests: 1 };
      const [h1, h2] = [decide(t1, refs, first, 0, NOW, clock), decide(t2, refs, first, 0, NOW, clock)];
      if (!h1.allow || !h2.allow) return;
      for (const e of extras) {
        expect(extendHolds(t1, h1.holds, e, 0, NOW, clock)).toBe(listed(t2, h2.holds, e));
        expect(h1.holds.map((h) => h.amount)).toEqual(h2.holds.map((h) => h.amount));
        for (const r of refs) expect(t1.read(r.slot)).toEqual(t2.read(r.slot));
      }
    }));
  });
});
