import { describe, expect, it } from 'vitest';
import { BudgetTable } from '../../src/budget/budget-table.js';

const fresh = (cap: bigint, shards = 2) => {
  const t = BudgetTable.create(8, shards);
  t.init(0, { cap, limit: cap, spent: 0n, periodStart: 1000 });
  return t;
};

describe('budget table', () => {
  it('refuses a reservation that would pass the cap', () => {
    const t = fresh(100n);
    expect(t.tryReserve(0, 60n, 0)).toBe(true);
    expect(t.tryReserve(0, 41n, 1)).toBe(false);
    expect(t.tryReserve(0, 40n, 1)).toBe(true);
    expect(t.read(0)).toMatchObject({ committed: 100n, reserved: 100n, spent: 0n });
  });

  it('replaces a hold with the actual amount on settle', () => {
    const t = fresh(100n);
    t.tryReserve(0, 60n, 0);
    t.settle(0, 60n, 25n, 0);
    expect(t.read(0)).toMatchObject({ committed: 25n, reserved: 0n, spent: 25n });
  });

  it('charges a late settle in full after its hold expired', () => {
    const t = fresh(100n);
    t.tryReserve(0, 60n, 0);
    t.release(0, 60n, 0);
    t.settle(0, 0n, 30n, 0);
    expect(t.read(0)).toMatchObject({ committed: 30n, reserved: 0n, spent: 30n });
  });

  it('starts a new period at zero spent but keeps holds in flight', () => {
    const t = fresh(100n);
    t.tryReserve(0, 10n, 0);
    t.settle(0, 10n, 10n, 0);
    t.tryReserve(0, 20n, 1);
    t.rollover(0, 2000);
    expect(t.read(0)).toMatchObject({ committed: 20n, reserved: 20n, spent: 0n, periodStart: 2000 });
    t.rollover(0, 2000); // idempotent
    expect(t.read(0).committed).toBe(20n);
  });

  it('returns the holds of a shard that died', () => {
    const t = fresh(100n);
    t.tryReserve(0, 30n, 0);
    t.tryReserve(0, 50n, 1);
    t.dropShard(1, 1);
    expect(t.read(0)).toMatchObject({ committed: 30n, reserved: 30n });
  });

  it('never lets parallel reservations from worker threads overshoot the cap', async () => {
    const { Worker } = await import('node:worker_threads');
    const t = fresh(10_000n, 4);
    // The real BudgetTable, compiled (npm test builds first), racing in four threads.
    const tableModule = new URL('../../dist/budget/budget-table.js', import.meta.url).href;
    const src = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.tableModule).then(({ BudgetTable }) => {
        const t = new BudgetTable(workerData.sab, 4);
        let ok = 0;
        for (let i = 0; i < 20000; i++) if (t.tryReserve(0, 7n, workerData.shard)) ok++;
        parentPort.postMessage(ok);
      });
    `;
    const counts = await Promise.all([0, 1, 2, 3].map((shard) => new Promise<number>((resolve, reject) => {
      const w = new Worker(src, { eval: true, workerData: { sab: t.sab, shard, tableModule } });
      w.once('message', resolve);
      w.once('error', reject);
    })));
    const total = counts.reduce((s, n) => s + n, 0);
    expect(total).toBe(Math.floor(10_000 / 7));
    expect(t.read(0).committed).toBe(BigInt(total * 7));
    expect(t.read(0).reserved).toBe(BigInt(total * 7));
  });
});
