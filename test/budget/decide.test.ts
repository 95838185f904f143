import { describe, expect, it } from 'vitest';
import { BudgetTable } from '../../src/budget/budget-table.js';
import { affordableOutputTokens, decide } from '../../src/budget/decide.js';
import { limitToCounter, type BudgetRef } from '../../src/budget/budget-ref.js';
import { PeriodClock } from '../../src/budget/periods.js';
import { ReservationBook } from '../../src/budget/reservations.js';

const NOW = Date.UTC(2026, 10, 23, 12);
const clock = new PeriodClock('UTC');

function ref(slot: number, unit: string, limit: number, period: BudgetRef['period'] = 'month', burst = 0): BudgetRef {
  const kind = unit === 'tokens' ? 'tokens' : unit === 'requests' ? 'requests' : 'money';
  return { slot, kind, unit, rate: unit === 'GBP' ? 0.8 : 1, period, limit, burst, thresholds: [], key: `k${slot}`, scope: { customer: 'acme', agent: null, source: 'customer' } };
}

function table(refs: BudgetRef[]) {
  const t = BudgetTable.create(16, 1);
  for (const r of refs) {
    const { limit, cap } = limitToCounter(r);
    t.init(r.slot, { cap, limit, spent: 0n, periodStart: clock.window(r.period, NOW).start });
  }
  return t;
}

describe('the enforcement decision', () => {
  it('reserves on every budget in scope when all have room', () => {
    const refs = [ref(0, 'USD', 1), ref(1, 'tokens', 1000), ref(2, 'requests', 5)];
    const t = table(refs);
    const d = decide(t, refs, { billedPico: 0.1e12, tokens: 100, requests: 1 }, 0, NOW, clock);
    expect(d.allow).toBe(true);
    expect(t.read(0).reserved).toBe(100_000_000n); // $0.1 in nano-USD
    expect(t.read(1).reserved).toBe(100n);
    expect(t.read(2).reserved).toBe(1n);
  });

  it('refuses with the budget that ran out and leaves the others untouched', () => {
    const refs = [ref(0, 'USD', 1), ref(1, 'tokens', 50)];
    const t = table(refs);
    const d = decide(t, refs, { billedPico: 0.1e12, tokens: 100, requests: 1 }, 0, NOW, clock);
    expect(d.allow).toBe(false);
    if (!d.allow) expect(d.ref.slot).toBe(1);
    expect(t.read(0).committed).toBe(0n);
  });

  it('converts money into the budget currency at the configured rate', () => {
    const refs = [ref(0, 'GBP', 0.8)]; // £0.80 = $1.00 at 0.8 GBP per USD
    const t = table(refs);
    expect(decide(t, refs, { billedPico: 1e12, tokens: 0, requests: 1 }, 0, NOW, clock).allow).toBe(true);
    expect(decide(t, refs, { billedPico: 1e6, tokens: 0, requests: 1 }, 0, NOW, clock).allow).toBe(false);
  });

  it('lets calls continue into the burst allowance above the limit', () => {
    const refs = [ref(0, 'requests', 10, 'day', 0.2)];
    const t = table(refs);
    let allowed = 0;
    for (let i = 0; i < 20; i++) if (decide(t, refs, { billedPico: 0, tokens: 0, requests: 1 }, 0, NOW, clock).allow) allowed++;
    expect(allowed).toBe(12);
  });

  it('starts counting again when the period turns', () => {
    const refs = [ref(0, 'requests', 1, 'day')];
    const t = table(refs);
    const book = new ReservationBook(t, 0, 60_000);
    const d = decide(t, refs, { billedPico: 0, tokens: 0, requests: 1 }, 0, NOW, clock);
    if (!d.allow) throw new Error('expected allow');
    book.settle(book.open('r1', d.holds, NOW), { billedPico: 0, tokens: 0, requests: 1 });
    expect(decide(t, refs, { billedPico: 0, tokens: 0, requests: 1 }, 0, NOW, clock).allow).toBe(false);
    expect(decide(t, refs, { billedPico: 0, tokens: 0, requests: 1 }, 0, NOW + 86_400_000, clock).allow).toBe(true);
  });

  it('computes how many output tokens the tightest budget can still pay for', () => {
    const refs = [ref(0, 'USD', 0.001), ref(1, 'tokens', 500)];
    const t = table(refs);
    // prompt costs $0.0004; output is 1e6 pico ($0.000001) per token → 600 tokens by money, 500-100 by tokens
    expect(affordableOutputTokens(t, refs, { billedPico: 0.0004e12, tokens: 100 }, 1e6, NOW, clock)).toBe(400);
    expect(affordableOutputTokens(t, [refs[0]!], { billedPico: 0.0004e12, tokens: 100 }, 1e6, NOW, clock)).toBe(600);
  });
});

describe('reservations', () => {
  it('settles once: a second settle or a release after it changes nothing', () => {
    const refs = [ref(0, 'USD', 1)];
    const t = table(refs);
    const book = new ReservationBook(t, 0, 60_000);
    const d = decide(t, refs, { billedPico: 0.5e12, tokens: 0, requests: 1 }, 0, NOW, clock);
    if (!d.allow) throw new Error('expected allow');
    const r = book.open('r1', d.holds, NOW);
    expect(book.settle(r, { billedPico: 0.2e12, tokens: 0, requests: 1 })).toBe(true);
    expect(book.settle(r, { billedPico: 0.2e12, tokens: 0, requests: 1 })).toBe(false);
    expect(book.release(r)).toBe(false);
    expect(t.read(0)).toMatchObject({ spent: 200_000_000n, committed: 200_000_000n, reserved: 0n });
  });

  it('releases a hold that is never settled once its TTL passes', () => {
    const refs = [ref(0, 'USD', 1)];
    const t = table(refs);
    const book = new ReservationBook(t, 0, 1000);
    const d = decide(t, refs, { billedPico: 0.5e12, tokens: 0, requests: 1 }, 0, NOW, clock);
    if (!d.allow) throw new Error('expected allow');
    book.open('r1', d.holds, NOW);
    expect(book.sweep(NOW + 999)).toBe(0);
    expect(book.sweep(NOW + 1000)).toBe(1);
    expect(t.read(0)).toMatchObject({ committed: 0n, reserved: 0n });
  });
});
