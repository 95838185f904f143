import { afterAll, describe, expect, it } from 'vitest';
import { BudgetTable } from '../../src/budget/budget-table.js';
import { configSchema } from '../../src/config/schema.js';
import { Ledger } from '../../src/store/ledger.js';
import { SlotRegistry, ScopeLimitError } from '../../src/server/slot-registry.js';
import { tempDir } from '../helpers/temp-dir.js';
import { RateWindows } from '../../src/policy/rate-windows.js';
import { SlotsExhaustedError } from '../../src/server/slot-registry.js';

// The supervisor's half of reclaiming dynamic scopes, with the real table and
// ledger and an injected clock: a scope's generation moves before its slots
// are freed, a hold or a counter change in between keeps it, and a freed slot
// comes back seeded from the ledger.

const config = configSchema.parse({
  customers: [{ id: 'acme', keys: ['tg-acme-key-000001'], budgets: [{ limit: 100, unit: 'USD', period: 'month' }], agentDefaults: { budgets: [{ limit: 10, unit: 'requests', period: 'day' }] } }],
});
const ledgers: Ledger[] = [];
afterAll(async () => {
  for (const l of ledgers) await l.close();
});

function setup(limits = {}) {
  const table = BudgetTable.create(16, 1);
  const ledger = new Ledger(tempDir('tollgate-slots-'));
  ledgers.push(ledger);
  const registry = new SlotRegistry(config, table, ledger, undefined, { perCustomer: 2, idleMs: 10_000, ...limits });
  const gens = new Int32Array(registry.gensSab);
  return { table, ledger, registry, gens };
}

const T0 = Date.UTC(2026, 0, 10, 12);

describe('reclaiming dynamic scopes', () => {
  it('moves the generation first and frees the slots only a sweep later', () => {
    const { registry, gens } = setup();
    const s = registry.resolveScope('acme', 'bot-1', T0);
    expect(s.handle).toBeDefined();
    const agentSlot = s.refs.find((r) => r.scope.source === 'agent')!.slot;
    registry.sweep(T0 + 5_000);
    expect(gens[s.handle!.index]).toBe(s.handle!.gen); // not idle long enough
    registry.sweep(T0 + 10_000);
    expect(gens[s.handle!.index]).not.toBe(s.handle!.gen); // shards' cached entry is stale from now on
    expect(registry.dynamicScopes).toBe(1); // slots not yet free
    registry.sweep(T0 + 11_000);
    expect(registry.dynamicScopes).toBe(0);
    // The freed slot is reused by the next dynamic scope, under a handle the old entry cannot match.
    const next = registry.resolveScope('acme', 'bot-2', T0 + 12_000);
    expect(next.refs.find((r) => r.scope.source === 'agent')!.slot).toBe(agentSlot);
    expect(next.handle!.index !== s.handle!.index || next.handle!.gen !== s.handle!.gen).toBe(true);
  });

  it('keeps a scope whose counters moved after its generation did', () => {
    const { registry, table } = setup();
    const s = registry.resolveScope('acme', 'bot-1', T0);
    const slot = s.refs.find((r) => r.scope.source === 'agent')!.slot;
    registry.sweep(T0 + 10_000); // generation moved
    // A shard that checked the old generation just before reserves now.
    expect(table.tryReserve(slot, 1n, 0)).toBe(true);
    registry.sweep(T0 + 11_000);
    expect(registry.dynamicScopes).toBe(1);
    table.settle(slot, 1n, 1n, 0);
    registry.sweep(T0 + 12_000);
    expect(registry.dynamicScopes).toBe(1);
    expect(table.read(slot).spent).toBe(1n);
  });

  it('re-seeds a reclaimed scope from the ledger', async () => {
    const { registry, ledger, table } = setup();
    registry.resolveScope('acme', 'bot-1', T0);
    const row = { request_id: 'r1', ts: T0, customer: 'acme', agent: 'bot-1', tags: {}, endpoint: '/v1/chat/completions', model_requested: 'm', model: 'm', provider: 'p', prompt_tokens: 1, completion_tokens: 1, cached_tokens: 0, cache_write_tokens: 0, cost_nano: 5, billed_nano: 5, decision: 'allowed' as const, reason: null, status: 200, latency_ms: 1, idempotency_key: null };
    await ledger.append(row);
    await ledger.append({ ...row, request_id: 'r2' });
    registry.sweep(T0 + 10_000);
    registry.sweep(T0 + 11_000);
    expect(registry.dynamicScopes).toBe(0);
    const back = registry.resolveScope('acme', 'bot-1', T0 + 12_000);
    expect(table.read(back.refs.find((r) => r.scope.source === 'agent')!.slot).spent).toBe(2n);
  });

  it('refuses a customer past its dynamic-scope limit and frees room when one is reclaimed', () => {
    const { registry } = setup();
    registry.resolveScope('acme', 'a', T0);
    registry.resolveScope('acme', 'b', T0 + 5_000);
    expect(() => registry.resolveScope('acme', 'c', T0 + 5_000)).toThrow(ScopeLimitError);
    registry.sweep(T0 + 10_000);
    registry.sweep(T0 + 11_000);
    expect(() => registry.resolveScope('acme', 'c', T0 + 11_000)).not.toThrow();
    // Configured scopes never count.
    expect(() => registry.resolveScope('acme', null, T0 + 11_000)).not.toThrow();
  });

  it('reserves velocity windows for configured scopes and frees a reclaimed scope\'s windows once they aged out', () => {
    const rated = configSchema.parse({
      customers: [{
        id: 'acme', keys: ['tg-acme-key-000001'], rateLimit: { requestsPerMinute: 100 },
        agentDefaults: { rateLimit: { requestsPerMinute: 5 } },
        agents: [{ id: 'listed', rateLimit: { requestsPerMinute: 7 } }],
      }],
    });
    const ledger = new Ledger(tempDir('tollgate-slots-'));
    ledgers.push(ledger);
    const registry = new SlotRegistry(rated, BudgetTable.create(16, 1), ledger, RateWindows.create(4), { perCustomer: 10, idleMs: 10_000 });
    registry.resolveScope('acme', 'a', T0);
    registry.resolveScope('acme', 'b', T0);
    // Two of four windows are the configured scopes': made-up agents cannot take them.
    expect(() => registry.resolveScope('acme', 'c', T0)).toThrow(SlotsExhaustedError);
    expect(() => registry.resolveScope('acme', 'listed', T0)).not.toThrow();
    expect(() => registry.resolveScope('acme', null, T0)).not.toThrow();
    registry.sweep(T0 + 10_000);
    registry.sweep(T0 + 11_000);
    expect(registry.dynamicScopes).toBe(0);
    // Reclaimed, but their per-minute windows still hold recent buckets.
    expect(() => registry.resolveScope('acme', 'c', T0 + 11_000)).toThrow(SlotsExhaustedError);
    registry.sweep(T0 + 61_000);
    expect(() => registry.resolveScope('acme', 'c', T0 + 61_000)).not.toThrow();
  });
});
