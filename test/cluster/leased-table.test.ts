import { describe, expect, it } from 'vitest';
import { BudgetTable } from '../../src/budget/budget-table.js';

// The budget table in cluster mode: the cap is this node's lease, other
// nodes' spend is reported but never decides, and a lease ends with its period.

const leased = () => {
  const t = BudgetTable.create(4, 2, { leased: true });
  t.init(0, { cap: 100n, limit: 1000n, spent: 10n, periodStart: 1000 });
  return t;
};

describe('leased budget table', () => {
  it('decides on this node\'s lease alone, whatever the other nodes spent', () => {
    const t = leased();
    t.setBase(0, 900n);
    expect(t.tryReserve(0, 90n, 0)).toBe(true);
    expect(t.tryReserve(0, 1n, 1)).toBe(false);
  });

  it('reports the whole cluster\'s spend: base added to spent, committed and cap alike', () => {
    const t = leased();
    t.setBase(0, 500n);
    t.tryReserve(0, 30n, 0);
    expect(t.read(0)).toMatchObject({ spent: 510n, committed: 540n, cap: 600n, reserved: 30n });
    expect(t.committed(0)).toBe(40n);
    expect(t.cap(0)).toBe(100n);
  });

  it('starts a new period with no lease and no base, keeping holds in flight', () => {
    const t = leased();
    t.setBase(0, 500n);
    t.tryReserve(0, 30n, 1);
    t.rollover(0, 2000);
    expect(t.read(0)).toMatchObject({ cap: 0n, spent: 0n, committed: 30n, reserved: 30n, periodStart: 2000 });
    expect(t.tryReserve(0, 1n, 0)).toBe(false);
  });

  it('keeps the cap through a rollover on a single node', () => {
    const t = BudgetTable.create(4, 2);
    t.init(0, { cap: 100n, limit: 100n, spent: 10n, periodStart: 1000 });
    t.rollover(0, 2000);
    expect(t.read(0)).toMatchObject({ cap: 100n, spent: 0n });
  });

  it('moves the cap only from the value the caller saw', () => {
    const t = leased();
    expect(t.swapCap(0, 99n, 500n)).toBe(false);
    expect(t.swapCap(0, 100n, 500n)).toBe(true);
    expect(t.cap(0)).toBe(500n);
  });
});
