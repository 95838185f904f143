import { describe, expect, it } from 'vitest';
import { BudgetTable } from '../../src/budget/budget-table.js';
import { decide } from '../../src/budget/decide.js';
import { limitToCounter, type BudgetRef } from '../../src/budget/budget-ref.js';
import { PeriodClock } from '../../src/budget/periods.js';
import { ReservationBook } from '../../src/budget/reservations.js';
import { StreamHold } from '../../src/proxy/stream-hold.js';
import type { ShardContext } from '../../src/proxy/shard-context.js';

// The hold of a stream held on a forecast, against a real budget table:
// one token per character of text, so counts are easy to follow.

const clock = new PeriodClock('UTC');
const NOW = Date.now();
const ref: BudgetRef = { slot: 0, kind: 'tokens', unit: 'tokens', rate: 1, period: 'total', limit: 1000, burst: 0, thresholds: [], key: 'k', scope: { customer: 'acme', agent: null, source: 'customer' } };
const growable = { ceiling: 16_384, amountsFor: (n: number) => ({ billedPico: 0, tokens: n, requests: 0 }) };

function setup(limit = 1000, shortfall?: ShardContext['onBudgetShortfall'], tokensOf = (t: string) => t.length) {
  const table = BudgetTable.create(4, 1);
  const r = { ...ref, limit };
  const c = limitToCounter(r);
  table.init(0, { cap: c.cap, limit: c.limit, spent: 0n, periodStart: clock.window('total', NOW).start });
  const book = new ReservationBook(table, 0, 60_000);
  const d = decide(table, [r], { billedPico: 0, tokens: 100, requests: 1 }, 0, NOW, clock);
  if (!d.allow) throw new Error('not admitted');
  const reservation = book.open('req', d.holds, NOW);
  const ctx = { table, shard: 0, clock, onBudgetShortfall: shortfall } as unknown as ShardContext;
  let counts = 0;
  const hold = new StreamHold(ctx, reservation, growable, 100, async (text) => (counts++, tokensOf(text)));
  return { table, book, reservation, hold, counts: () => counts };
}

const text = (n: number) => 'x'.repeat(n);

describe('a stream\'s growing hold', () => {
  it('answers without counting while the bytes stay well below the hold', () => {
    const s = setup();
    expect(s.hold.keepUp(text(40), true, 40)).toBe(true);
    expect(s.counts()).toBe(0);
  });

  it('grows the hold on the budget as the output nears it', async () => {
    const s = setup();
    expect(await s.hold.keepUp(text(95), true, 95)).toBe(true);
    expect(s.hold.heldTokens).toBeGreaterThanOrEqual(150);
    expect(s.table.read(0).reserved).toBe(BigInt(s.hold.heldTokens));
  });

  it('grows on the byte bound without counting while the budget has whole steps to spare', async () => {
    const s = setup(100_000);
    for (let n = 10; n <= 2000; n += 10) expect(s.hold.keepUp(text(n), true, n)).toBe(true);
    expect(s.counts()).toBe(0);
    expect(s.hold.heldTokens).toBeGreaterThan(2000);
    expect(s.table.read(0).reserved).toBe(BigInt(s.hold.heldTokens));
  });

  it('grows on counts only once the client has gone (a drain without usage is billed at least the hold)', async () => {
    const s = setup(100_000);
    s.hold.countOnly = true;
    for (let n = 10; n <= 400; n += 10) expect(await s.hold.keepUp(text(n), true, n)).toBe(true);
    expect(s.counts()).toBeGreaterThan(0);
    expect(s.hold.heldTokens).toBeLessThan(400 * 1.5 + 64);
  });

  it('counts once a whole step no longer fits, and stops on the count, not the bound', async () => {
    // 2 bytes per token: the bound passes the budget long before the tokens do.
    const s = setup(300, undefined, (t) => Math.ceil(t.length / 2));
    const hold = s.hold;
    let ok = true;
    let n = 0;
    while (ok && n < 2000) ok = await hold.keepUp(text((n += 10)), true, n);
    expect(hold.heldTokens).toBe(300);
    expect(n).toBe(610); // 305 tokens: the first event past the budget, by count
    expect(s.table.read(0).reserved).toBe(300n);
  });

  it('grows to the last token the budget has and then says stop', async () => {
    const s = setup(300);
    let ok = true;
    let n = 0;
    while (ok && n < 1000) ok = await s.hold.keepUp(text((n += 10)), true, n);
    expect(s.hold.heldTokens).toBe(300);
    expect(n).toBe(310); // the first event past the budget
    expect(s.table.read(0).reserved).toBe(300n);
  });

  it('never grows a reservation that expired (its holds were already given back)', async () => {
    const s = setup();
    s.book.sweep(NOW + 120_000);
    expect(s.reservation.state).toBe('expired');
    expect(await s.hold.keepUp(text(101), true, 101)).toBe(false);
    expect(s.table.read(0).reserved).toBe(0n);
  });

  it('asks the cluster for more lease once per hold size before it stops', async () => {
    let asked = 0;
    const s = setup(150, async () => (asked++, 'exhausted'));
    for (let n = 10; n <= 200 && (await s.hold.keepUp(text(n), true, n)); n += 10);
    expect(asked).toBeGreaterThanOrEqual(1);
    expect(asked).toBeLessThanOrEqual(3);
  });
});
