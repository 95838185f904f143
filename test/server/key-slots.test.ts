import { afterAll, describe, expect, it } from 'vitest';
import { BudgetTable } from '../../src/budget/budget-table.js';
import { configSchema } from '../../src/config/schema.js';
import { Ledger } from '../../src/store/ledger.js';
import { CapacityError, KeyGoneError, SlotRegistry } from '../../src/server/slot-registry.js';
import { RateWindows } from '../../src/policy/rate-windows.js';
import { ControlState } from '../../src/control/control-state.js';
import type { KeyRecord } from '../../src/control/control-records.js';
import { tempDir } from '../helpers/temp-dir.js';

// An issued key with its own budgets and rateLimit, in the supervisor's
// slot registry (real table and ledger, injected clock): its refs come on
// top of the customer's, its slots are reserved like a customer's, and a
// revoked key's slots are counted until no hold can name them, then freed.

const config = configSchema.parse({
  customers: [{ id: 'acme', keys: ['tg-acme-key-000001'], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] }],
});
const ledgers: Ledger[] = [];
afterAll(async () => {
  for (const l of ledgers) await l.close();
});

const T0 = Date.UTC(2026, 0, 10, 12);
const key = (id: string, extra: Partial<KeyRecord>): KeyRecord => ({ key_id: id, customer: 'acme', hash: id.padEnd(64, '0'), name: null, created_at: T0, expires_at: null, ...extra });

function setup(slots: number) {
  const state = new ControlState(config);
  const ledger = new Ledger(tempDir('tollgate-keyslots-'));
  ledgers.push(ledger);
  const table = BudgetTable.create(slots, 1);
  const registry = new SlotRegistry(config, table, ledger, RateWindows.create(8), { idleMs: 10_000 }, () => true, { catalog: state.catalog, offsets: state.offsets, keys: state });
  return { state, table, registry };
}

describe('keys as scopes in the slot registry', () => {
  it('adds the key\'s budgets and windows to the customer\'s; a plain call is unchanged; reserved slots count them', () => {
    const { state, registry } = setup(8);
    expect(registry.reservedFor('acme').budgets).toBe(1);
    state.applyDelta({ t: 'key', key: key('key_a', { budgets: [{ limit: 3, unit: 'requests', period: 'day', burst: 0, thresholds: [], enforce: true }], rateLimit: { requestsPerMinute: 5 } }) });
    expect(registry.reservedFor('acme')).toEqual({ budgets: 2, rates: 1 });
    const plain = registry.resolveScope('acme', null, T0);
    expect(plain.refs.map((r) => r.scope.source)).toEqual(['customer']);
    expect(plain.rates).toEqual([]);
    const keyed = registry.resolveScope('acme', 'bot', T0, 'key_a');
    expect(keyed.refs.map((r) => r.scope.source)).toEqual(['customer', 'key']);
    expect(keyed.refs[1]!.scope).toMatchObject({ key: 'key_a', agent: null });
    expect(keyed.refs[0]!.slot).toBe(plain.refs[0]!.slot); // the same customer counter
    expect(keyed.rates.map((r) => [r.scope.source, r.scope.key, r.limit])).toEqual([['key', 'key_a', 5]]);
    expect(() => registry.resolveScope('acme', null, T0, 'key_unknown')).toThrow(KeyGoneError);
  });

  it('a key needing more slots than the table has left is refused; a revoked key\'s slots count until no hold can name them', () => {
    const { state, table, registry } = setup(3);
    const budget = { limit: 3, unit: 'requests', period: 'day', burst: 0, thresholds: [], enforce: true } as const;
    expect(() => registry.checkReserve({ budgets: 3, rates: 0 })).toThrow(CapacityError);
    state.applyDelta({ t: 'key', key: key('key_b', { budgets: [budget, budget] }) });
    registry.reserve({ budgets: 2, rates: 0 });
    const refs = registry.resolveScope('acme', null, T0, 'key_b').refs.filter((r) => r.scope.source === 'key');
    expect(refs).toHaveLength(2);
    // A hold in flight on one of them.
    expect(table.tryReserve(refs[0]!.slot, 1n, 0)).toBe(true);
    state.applyDelta({ t: 'key-revoked', key_id: 'key_b', hash: 'x', customer: 'acme' });
    registry.reserve({ budgets: -2, rates: 0 });
    registry.retireKey('key_b', T0);
    expect(() => registry.checkReserve({ budgets: 1, rates: 0 })).toThrow(CapacityError); // still counted
    registry.sweep(T0 + 10_000);
    expect(() => registry.checkReserve({ budgets: 1, rates: 0 })).not.toThrow(); // the idle one is free
    expect(() => registry.checkReserve({ budgets: 2, rates: 0 })).toThrow(CapacityError); // the held one is not
  });

  it('a deleted runtime customer\'s slots are retired and freed once idle: sign-ups and deletions do not fill the table', () => {
    const { state, registry } = setup(4);
    const customer = (id: string) => ({ id, keys: [], keyHashes: [], agents: [], budgets: [{ limit: 5, unit: 'USD', period: 'month', burst: 0, thresholds: [], enforce: true }] }) as never;
    // acme (config) holds 1 slot; each runtime customer needs 1 more: 3 churns through a table of 4 need the freed ones.
    for (let i = 0; i < 6; i++) {
      const id = `churn-${i}`;
      registry.checkReserve({ budgets: 1, rates: 0 });
      state.applyDelta({ t: 'customer', customer: customer(id) });
      registry.reserve({ budgets: 1, rates: 0 });
      const t = T0 + i * 20_000;
      expect(registry.resolveScope(id, null, t).refs).toHaveLength(1);
      state.applyDelta({ t: 'customer-deleted', id });
      registry.reserve({ budgets: -1, rates: 0 });
      registry.retireCustomer(id, t);
      registry.sweep(t + 10_000); // idle past idleMs, no hold: freed
    }
    expect(registry.used).toBeLessThanOrEqual(2); // acme's slot and one reused over and over
  });
});
