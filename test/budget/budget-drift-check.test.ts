import { afterEach, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { BudgetTable } from '../../src/budget/budget-table.js';
import { limitToCounter, type BudgetRef } from '../../src/budget/budget-ref.js';
import { periodWindow } from '../../src/budget/periods.js';
import { BudgetDrift } from '../../src/store/budget-drift.js';
import { Ledger } from '../../src/store/ledger.js';
import { tempDir } from '../helpers/temp-dir.js';
import { usageRow } from '../reports/seed-ledger.js';

// The drift check against a real ledger, without a proxy: a counter that
// moves during the check is left alone (busy), and a period whose rows
// retention may have deleted is never "repaired" to a partial sum.

const ref: BudgetRef = {
  slot: 0, kind: 'requests', unit: 'requests', rate: 1, period: 'month', timeZone: 'UTC', enforce: true, limit: 100, burst: 0,
  thresholds: [], key: 'k0', scope: { customer: 'acme', agent: null, source: 'customer' },
};

let ledger: Ledger | undefined;
afterEach(async () => { await ledger?.close(); ledger = undefined; });

async function setup(counter: bigint) {
  const now = Date.now();
  ledger = new Ledger(join(tempDir('tollgate-drift-'), 'data'), 'UTC', false);
  await Promise.all([ledger.append(usageRow({ ts: now - 10, customer: 'acme' })), ledger.append(usageRow({ ts: now - 5, customer: 'acme' }))]);
  const table = BudgetTable.create(4, 1);
  const { limit, cap } = limitToCounter(ref);
  table.init(0, { cap, limit, spent: counter, periodStart: periodWindow('month', now).start });
  return { table, ledger };
}

describe('the drift check', () => {
  it('repairs a counter that disagrees with the rows', async () => {
    const { table, ledger } = await setup(9n);
    const r = await new BudgetDrift({ table, ledger, refs: () => [ref], ledgerAccepting: () => true }).check({ repair: true });
    expect(r.budgets).toEqual([expect.objectContaining({ counter: 9, ledger: 2, drift: 7, status: 'repaired' })]);
    expect(table.spent(0)).toBe(2n);
  });

  it('leaves a counter a call settled on during the check alone', async () => {
    const { table, ledger } = await setup(9n);
    const check = new BudgetDrift({ table, ledger, refs: () => [ref], ledgerAccepting: () => true }).check({ repair: true });
    setTimeout(() => table.settle(0, 0n, 1n, 0), 20);
    const r = await check;
    expect(r).toMatchObject({ busy: 1, repaired: 0 });
    expect(table.spent(0)).toBe(10n);
  });

  it('does not repair while the ledger holds rows it could not commit', async () => {
    const { table, ledger } = await setup(9n);
    const r = await new BudgetDrift({ table, ledger, refs: () => [ref], ledgerAccepting: () => false }).check({ repair: true });
    expect(r).toMatchObject({ drifted: 1, repaired: 0 });
    expect(table.spent(0)).toBe(9n);
  });

  it('calls a period older than row retention unverifiable and leaves it', async () => {
    const { table, ledger } = await setup(9n);
    const r = await new BudgetDrift({ table, ledger, refs: () => [ref], ledgerAccepting: () => true, rowsKeptMs: 0 }).check({ repair: true });
    expect(r).toMatchObject({ unverifiable: 1, repaired: 0, drifted: 0 });
    expect(table.spent(0)).toBe(9n);
  });
});
