import { describe, expect, it } from 'vitest';
import { BudgetTable } from '../../src/budget/budget-table.js';
import type { BudgetRef } from '../../src/budget/budget-ref.js';
import { LowBalanceMonitor } from '../../src/alerts/low-balance.js';
import type { AlertEvent } from '../../src/alerts/alert-event.js';
import type { Outbox } from '../../src/alerts/outbox.js';

// The low-balance check on its own, on a real budget table and an outbox
// stand-in: one alert per crossing, re-armed by a top-up, never for a wallet
// not yet credited, and never twice for one crossing however often it runs.

const NANO = 1_000_000_000n;

function fakeOutbox() {
  const fired = new Map<string, { event: AlertEvent; channels: string[] }>();
  const state = new Map<string, unknown>();
  const outbox = {
    fire: async (key: string, event: AlertEvent, channels: string[]) => (fired.has(key) ? false : (fired.set(key, { event, channels }), true)),
    getState: (key: string) => state.get(key),
    setState: async (key: string, v: unknown) => (state.set(key, v), true),
  };
  return { outbox: outbox as unknown as Outbox, fired };
}

const wallet: BudgetRef = {
  slot: 0, kind: 'money', unit: 'USD', rate: 1, period: 'prepaid', timeZone: 'UTC', enforce: true, limit: 0, burst: 0, thresholds: [],
  key: 'acme\u0000\u0000wallet\u00000\u0000USD\u0000prepaid', scope: { customer: 'acme', agent: null, source: 'wallet' },
  wallet: { topUpUrl: 'https://pay.example.com/acme', lowBalance: [{ below: 2, notify: [] }] },
};

describe('LowBalanceMonitor', () => {
  it('alerts once per crossing, re-arms on a top-up, and skips a wallet never credited', async () => {
    const table = BudgetTable.create(1, 1);
    table.init(0, { cap: 0n, limit: 0n, spent: 0n, periodStart: 0 });
    const { outbox, fired } = fakeOutbox();
    const monitor = new LowBalanceMonitor(table, () => [wallet], outbox, ['ops']);
    const spend = (n: bigint) => {
      expect(table.tryReserve(0, n, 0)).toBe(true);
      table.settle(0, n, n, 0);
    };
    await monitor.check(0);
    expect(fired.size).toBe(0); // never credited
    table.setLimit(0, 5n * NANO, 5n * NANO);
    await monitor.check(0);
    expect(fired.size).toBe(0); // 5 left
    spend(3n * NANO + 1n);
    await Promise.all([monitor.check(1), monitor.check(1)]);
    await monitor.check(2);
    expect(fired.size).toBe(1);
    const [first] = [...fired.values()];
    expect(first!.channels).toEqual(['ops']);
    expect(first!.event).toMatchObject({ event: 'low_balance', customer: 'acme', threshold: 2, balance: 1.999999999, top_up_url: 'https://pay.example.com/acme', budget: { unit: 'USD', period: 'prepaid', limit: 5, used: 3.000000001 } });
    table.setLimit(0, 10n * NANO, 10n * NANO); // top-up: 6.999999999 left, re-armed
    await monitor.check(3);
    expect(fired.size).toBe(1);
    spend(5n * NANO);
    await monitor.check(4);
    expect(fired.size).toBe(2);
  });
});
