import { describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../src/config/load-config.js';
import { ControlState } from '../../src/control/control-state.js';
import { createCustomer, deleteCustomer, issueKey, patchCustomer, putPlan, revokeKey, type Planned, type Refusal } from '../../src/control/control-ops.js';
import { KeyDirectory } from '../../src/identity/key-directory.js';
import { scopeBudgets } from '../../src/budget/scope-budgets.js';

// The control plane's pure parts: validation names the field, a write is a
// list of deltas with its undo, and applying deltas moves the catalog and
// key directory the same way on every thread.

const config = parseConfig({
  exchangeRates: { GBP: 0.8 },
  plans: [{ name: 'file-plan', budgets: [{ limit: 10, unit: 'USD', period: 'month' }] }],
  customers: [{ id: 'file-co', plan: 'file-plan', keys: ['tg-file-co-key-1'] }],
}, {});
const headers = (key: string) => ({ authorization: `Bearer ${key}`, apiKey: '', customer: '', agent: '', tags: '', session: '' });
const ok = (o: Planned | Refusal) => {
  if (!o.ok) throw new Error(o.message);
  return o;
};

describe('control-plane writes', () => {
  it('creates a customer on a runtime plan; its budgets come from the catalog', () => {
    const s = new ControlState(config);
    for (const d of ok(putPlan(config, s, 'pro', { budgets: [{ limit: 20, unit: 'GBP', period: 'month' }] })).deltas) s.applyDelta(d);
    const c = ok(createCustomer(config, s, { id: 'rt', plan: 'pro', budgets: [{ limit: 5, unit: 'USD', period: 'day' }] }));
    expect(c.status).toBe(201);
    for (const d of c.deltas) s.applyDelta(d);
    expect(scopeBudgets(config, 'rt', null, s.catalog).map((b) => [b.ref.scope.source, b.ref.unit, b.ref.limit])).toEqual([['plan', 'GBP', 20], ['customer', 'USD', 5]]);
  });

  it('names the field of every problem and refuses duplicates and file-managed records', () => {
    const s = new ControlState(config);
    const bad = (o: Planned | Refusal) => {
      if (o.ok) throw new Error('accepted');
      return o;
    };
    expect(bad(createCustomer(config, s, { id: 'x', plan: 'nope' })).message).toBe('plan: unknown plan "nope"');
    expect(bad(createCustomer(config, s, { id: 'x', budgets: [{ limit: 0, unit: 'USD', period: 'month' }] })).problems).toEqual(['budgets[0].limit: Number must be greater than 0 (got 0)']);
    expect(bad(createCustomer(config, s, { id: 'x', budgets: [{ limit: 1, unit: 'EUR', period: 'month' }] })).message).toMatch(/^budgets\[0\]\.unit: no exchange rate for EUR/);
    expect(bad(createCustomer(config, s, { id: 'x', keys: ['k'] })).message).toMatch(/^keys: unknown field/);
    expect(bad(createCustomer(config, s, { id: 'file-co' })).type).toBe('customer_exists');
    expect(bad(patchCustomer(config, s, 'file-co', { disabled: true })).type).toBe('managed_by_config');
    expect(bad(deleteCustomer(s, 'file-co')).type).toBe('managed_by_config');
    expect(bad(putPlan(config, s, 'file-plan', {})).type).toBe('managed_by_config');
    expect(bad(issueKey(config, s, 'file-co', { expires_at: '2020-01-01T00:00:00Z' }, Date.parse('2031-01-01'))).message).toMatch(/expires_at: in the past/);
    expect(bad(patchCustomer(config, s, 'nobody', {})).type).toBe('not_found_error');
  });

  it('issues a key shown once and stored as a hash; revoking it and deleting its customer stop it', () => {
    const s = new ControlState(config);
    const keys = new KeyDirectory(config, s.catalog);
    const s2 = new ControlState(config, undefined, (d) => {
      if (d.t === 'key') keys.putKey(d.key);
      if (d.t === 'key-revoked') keys.removeKey(d.hash);
    });
    const apply = (o: Planned) => o.deltas.forEach((d) => { s.applyDelta(d); s2.applyDelta(d); });
    apply(ok(createCustomer(config, s, { id: 'rt' })));
    const issued = ok(issueKey(config, s, 'rt', { name: 'n', models: ['gpt-4o*'] }, Date.now()));
    const secret = (issued.body as { key: string }).key;
    expect(secret).toMatch(/^tgk_live_[A-Za-z0-9_-]{32}$/);
    expect(JSON.stringify(issued.audit)).not.toContain(secret);
    apply(issued);
    const who = keys.identify(headers(secret));
    expect(who.ok && who.caller).toMatchObject({ customer: 'rt', models: ['gpt-4o*'] });
    expect(keys.takeUsed().size).toBe(1);

    apply(ok(patchCustomer(config, s, 'rt', { disabled: true })));
    expect(keys.identify(headers(secret))).toMatchObject({ ok: false, type: 'customer_disabled' });
    apply(ok(patchCustomer(config, s, 'rt', { disabled: false })));
    const del = ok(deleteCustomer(s, 'rt'));
    expect(del.deltas.map((d) => d.t)).toEqual(['key-revoked', 'customer-deleted']);
    apply(del);
    expect(keys.identify(headers(secret))).toMatchObject({ ok: false, type: 'authentication_error' });
    // The undo puts everything back.
    del.undo.forEach((d) => { s.applyDelta(d); s2.applyDelta(d); });
    expect(keys.identify(headers(secret)).ok).toBe(true);
    apply(ok(revokeKey(s, 'rt', (issued.body as { key_id: string }).key_id)));
    expect(keys.identify(headers(secret)).ok).toBe(false);
  });

  it('an expired key is refused', () => {
    const s = new ControlState(config);
    const keys = new KeyDirectory(config, s.catalog);
    const now = Date.parse('2031-06-18T12:00:00Z');
    vi.useFakeTimers({ now });
    try {
      const issued = ok(issueKey(config, s, 'file-co', { expires_at: '2031-06-18T12:00:01Z' }, now));
      keys.putKey((issued.deltas[0] as { key: any }).key);
      expect(keys.identify(headers((issued.body as { key: string }).key)).ok).toBe(true);
      vi.setSystemTime(now + 1_000);
      expect(keys.identify(headers((issued.body as { key: string }).key))).toMatchObject({ ok: false, message: 'API key expired at 2031-06-18T12:00:01.000Z' });
    } finally {
      vi.useRealTimers();
    }
  });

  it('a change at or below the version held is ignored (a replayed feed entry)', () => {
    const s = new ControlState(config);
    const c = ok(createCustomer(config, s, { id: 'v' }));
    expect(s.apply({ version: 1, deltas: c.deltas })).toBe(true);
    expect(s.apply({ version: 1, deltas: [{ t: 'customer-deleted', id: 'v' }] })).toBe(false);
    expect(s.catalog.customer('v')).toBeDefined();
    expect(new ControlState(config, s.snapshot()).catalog.customer('v')).toBeDefined();
  });
});

describe('admin tokens in the config', () => {
  it('refuses duplicate names (adminToken is "admin") and repeated tokens, naming the path', () => {
    expect(() => parseConfig({ adminToken: 'x'.repeat(16), adminTokens: [{ name: 'admin', token: 'y'.repeat(16), role: 'read' }, { name: 'ops', token: 'y'.repeat(16), role: 'admin' }] }, {}))
      .toThrow(/adminTokens\[0\]\.name: duplicate admin token name "admin"[\s\S]*adminTokens\[1\]\.token: the same token is given twice/);
    expect(() => parseConfig({ adminTokens: [{ name: 'ops', token: 'short', role: 'admin' }] }, {})).toThrow(/adminTokens\[0\]\.token: admin tokens must be at least 16 characters/);
  });
});
