import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, launch, startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { freshRequest } from '../helpers/fresh-request.js';

// Issue 13, control plane on one node (real process, two shards): customers,
// keys and plans written through the admin API serve at once on every
// shard, survive a restart, keep spend across limit and plan changes; read
// tokens cannot write; every write is audited; bad input changes nothing.

const READ_TOKEN = 'read-only-token-0123456789';
const OPS_TOKEN = 'ops-admin-token-0123456789';
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const config = (url: string) => ({
  providers: providers(url),
  adminTokens: [{ name: 'ops', token: OPS_TOKEN, role: 'admin' }, { name: 'auditor', token: READ_TOKEN, role: 'read' }],
  plans: [{ name: 'file-plan', budgets: [{ limit: 100, unit: 'USD', period: 'month' }] }],
  customers: [{ id: 'file-customer', plan: 'file-plan', keys: ['tg-file-customer-key-1'] }],
});

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 10 });
  tg = await startTollgate(config(mock.url), { clockStart: TEST_CLOCK, shards: 2 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const fresh = (method: string, path: string, headers: Record<string, string>, body?: unknown) => freshRequest(tg.port, method, path, headers, body);

const admin = (method: string, path: string, body?: unknown, token = OPS_TOKEN) => fresh(method, path, { authorization: `Bearer ${token}` }, body);
const chat = (key: string, model = 'gpt-4o-mini') => fresh('POST', '/v1/chat/completions', { authorization: `Bearer ${key}` }, { model, messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });

/** Asks /admin/control on fresh connections until both shards answered; returns what each reported. */
async function perShard(): Promise<Map<number, { version: number; keys: number; customers: number }>> {
  const seen = new Map<number, { version: number; keys: number; customers: number }>();
  for (let i = 0; i < 200 && seen.size < 2; i++) {
    const r = await admin('GET', '/admin/control');
    seen.set(r.body.shard, r.body);
  }
  expect(seen.size).toBe(2);
  return seen;
}

describe('control plane on one node', () => {
  let key = '';
  let keyId = '';

  it('a customer and key created through the API serve on both shards as soon as the write answers', async () => {
    const plan = await admin('PUT', '/admin/plans/starter', { budgets: [{ limit: 1, unit: 'USD', period: 'month' }] });
    expect(plan.status).toBe(201);
    const created = await admin('POST', '/admin/customers', { id: 'runtime-1', plan: 'starter', metadata: { tier: 'gold' }, budgets: [{ limit: 5, unit: 'USD', period: 'month' }] });
    expect(created.status, JSON.stringify(created.body)).toBe(201);
    const issued = await admin('POST', '/admin/customers/runtime-1/keys', { name: 'ci' });
    expect(issued.status).toBe(201);
    key = issued.body.key;
    keyId = issued.body.key_id;
    expect(key).toMatch(/^tgk_live_[A-Za-z0-9_-]{32}$/);
    // No wait: every shard applied the change before the write answered.
    const calls = await Promise.all(Array.from({ length: 40 }, () => chat(key)));
    expect(calls.map((c) => c.status)).toEqual(Array(40).fill(200));
    const shards = await perShard();
    for (const s of shards.values()) expect(s.keys).toBeGreaterThanOrEqual(1);
    expect(new Set([...shards.values()].map((s) => s.version)).size).toBe(1);

    const list = await admin('GET', '/admin/customers/runtime-1/keys');
    expect(list.body.keys).toEqual([expect.objectContaining({ key_id: keyId, name: 'ci', expires_at: null })]);
    expect(JSON.stringify(list.body)).not.toContain(key);
    const view = await admin('GET', '/admin/customers/runtime-1');
    expect(view.body.budgets.map((b: any) => [b.source, b.limit])).toEqual([['plan', 1], ['customer', 5]]);
  });

  it('lists customers by id prefix and metadata, with a cursor', async () => {
    for (const id of ['runtime-2', 'runtime-3']) expect((await admin('POST', '/admin/customers', { id, metadata: { tier: id === 'runtime-2' ? 'gold' : 'free' } })).status).toBe(201);
    const gold = await admin('GET', '/admin/customers?prefix=runtime-&metadata.tier=gold');
    expect(gold.body.customers.map((c: any) => c.id)).toEqual(['runtime-1', 'runtime-2']);
    const first = await admin('GET', '/admin/customers?prefix=runtime-&limit=2');
    expect(first.body.customers.map((c: any) => c.id)).toEqual(['runtime-1', 'runtime-2']);
    const next = await admin('GET', `/admin/customers?prefix=runtime-&limit=2&cursor=${first.body.next_cursor}`);
    expect(next.body.customers.map((c: any) => c.id)).toEqual(['runtime-3']);
    expect(next.body.next_cursor).toBeNull();
  });

  it('a limit change and a plan change keep this period\'s spend; a reset is audited', async () => {
    const spent = async () => (await admin('GET', '/admin/customers/runtime-1')).body.budgets.find((b: any) => b.source === 'customer').used as number;
    const before = await spent();
    expect(before).toBeGreaterThan(0);
    expect((await admin('PATCH', '/admin/customers/runtime-1', { budgets: [{ limit: 7, unit: 'USD', period: 'month' }] })).status).toBe(200);
    const after = (await admin('GET', '/admin/customers/runtime-1')).body.budgets;
    expect(after.find((b: any) => b.source === 'customer')).toMatchObject({ limit: 7, used: before });
    const planSpend = after.find((b: any) => b.source === 'plan').used;
    expect((await admin('PUT', '/admin/plans/starter', { budgets: [{ limit: 2, unit: 'USD', period: 'month' }] })).status).toBe(200);
    const onPlan = (await admin('GET', '/admin/customers/runtime-1')).body.budgets.find((b: any) => b.source === 'plan');
    expect(onPlan).toMatchObject({ limit: 2, used: planSpend });

    const reset = await admin('POST', '/admin/customers/runtime-1/budgets/reset', { reason: 'goodwill' });
    expect(reset.status).toBe(200);
    expect(await spent()).toBe(0);
    const audit = await admin('GET', '/admin/audit', undefined, READ_TOKEN);
    expect(audit.body.entries.at(-1)).toMatchObject({ actor: 'ops', action: 'budget.reset', target: 'customer:runtime-1' });
  });

  it('a read token reads but gets 403 on every write, old routes included', async () => {
    expect((await admin('GET', '/admin/customers', undefined, READ_TOKEN)).status).toBe(200);
    for (const [method, path, body] of [['POST', '/admin/customers', { id: 'nope' }], ['POST', '/admin/reload', undefined], ['DELETE', '/admin/customers/runtime-2', undefined], ['PUT', '/admin/plans/x', {}]] as const) {
      const r = await admin(method, path, body, READ_TOKEN);
      expect(r.status, path).toBe(403);
      expect(r.body.error.type).toBe('admin_read_only');
    }
    expect((await admin('GET', '/admin/customers/nope')).status).toBe(404);
  });

  it('bad input gets a 4xx naming the field and writes nothing', async () => {
    const version = (await admin('GET', '/admin/control')).body.version;
    const cases: [string, string, unknown, number, RegExp][] = [
      ['POST', '/admin/customers', { id: 'bad-1', plan: 'no-such-plan' }, 400, /plan: unknown plan "no-such-plan"/],
      ['POST', '/admin/customers', { id: 'runtime-1' }, 409, /exists/],
      ['POST', '/admin/customers', { id: 'bad-2', budgets: [{ limit: -1, unit: 'USD', period: 'month' }] }, 400, /budgets\[0\]\.limit/],
      ['POST', '/admin/customers', { id: 'bad-3', budgets: [{ limit: 1, unit: 'EUR', period: 'month' }] }, 400, /budgets\[0\]\.unit: no exchange rate for EUR/],
      ['POST', '/admin/customers', { id: 'bad-4', bogus: 1 }, 400, /bogus: unknown field/],
      ['PATCH', '/admin/customers/runtime-1', { budgets: [{ limit: 1, unit: 'USD', period: 'fortnight' }] }, 400, /budgets\[0\]\.period/],
      ['POST', '/admin/customers/runtime-1/keys', { expires_at: 'tomorrow' }, 400, /expires_at/],
      ['PUT', '/admin/plans/starter', { budgets: 'lots' }, 400, /budgets/],
      ['PATCH', '/admin/customers/file-customer', { disabled: true }, 409, /config file/],
      ['DELETE', '/admin/customers/file-customer', undefined, 409, /config file/],
      ['PUT', '/admin/plans/file-plan', { budgets: [] }, 409, /config file/],
    ];
    for (const [method, path, body, status, message] of cases) {
      const r = await admin(method, path, body);
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(status);
      expect(r.body.error.message).toMatch(message);
      if (status === 409 && /config/.test(String(message))) expect(r.body.error.type).toBe('managed_by_config');
    }
    expect((await admin('GET', '/admin/customers/bad-1')).status).toBe(404);
    expect((await admin('GET', '/admin/control')).body.version).toBe(version);
    // Keys may be issued for a customer the file manages.
    const k = await admin('POST', '/admin/customers/file-customer/keys', {});
    expect(k.status).toBe(201);
    expect((await chat(k.body.key)).status).toBe(200);
  });

  it('a disabled customer gets 403; a revoked key 401 on every shard at once', async () => {
    const second = await admin('POST', '/admin/customers/runtime-2/keys', { models: ['gpt-4o-mini'] });
    expect((await chat(second.body.key)).status).toBe(200);
    const other = await chat(second.body.key, 'gpt-4o');
    expect(other.status).toBe(403);
    expect(other.body.error).toMatchObject({ type: 'model_not_allowed', message: expect.stringContaining('gpt-4o-mini') });
    const monitored = await fresh('POST', '/v1/usage/authorize', { authorization: `Bearer ${second.body.key}` }, { model: 'gpt-4o', max_tokens: 10 });
    expect([monitored.status, monitored.body.error.type]).toEqual([403, 'model_not_allowed']);
    expect((await admin('PATCH', '/admin/customers/runtime-2', { disabled: true })).status).toBe(200);
    const disabled = await Promise.all(Array.from({ length: 20 }, () => chat(second.body.key)));
    expect(disabled.map((c) => c.status)).toEqual(Array(20).fill(403));
    expect(disabled[0]!.body.error.type).toBe('customer_disabled');

    expect((await admin('DELETE', `/admin/customers/runtime-1/keys/${keyId}`)).status).toBe(200);
    const revoked = await Promise.all(Array.from({ length: 40 }, () => chat(key)));
    expect(revoked.map((c) => c.status)).toEqual(Array(40).fill(401));
  });

  it('every write is in the audit log with its actor, oldest first, paged by cursor', async () => {
    const all: any[] = [];
    let cursor = '';
    for (let i = 0; i < 50; i++) {
      const r = await admin('GET', `/admin/audit?limit=3${cursor ? `&cursor=${cursor}` : ''}`);
      all.push(...r.body.entries);
      if (!r.body.next_cursor) break;
      cursor = r.body.next_cursor;
    }
    expect(all.map((e) => e.action)).toEqual([
      'plan.create', 'customer.create', 'key.create', 'customer.create', 'customer.create', 'customer.update', 'plan.update', 'budget.reset',
      'key.create', 'key.create', 'customer.update', 'key.revoke',
    ]);
    expect(new Set(all.map((e) => e.actor))).toEqual(new Set(['ops']));
    expect([...all.map((e) => e.ts)].sort()).toEqual(all.map((e) => e.ts));
    const keyEntry = all.find((e) => e.action === 'key.create');
    expect(JSON.stringify(keyEntry)).not.toMatch(/tgk_live_|"hash"/);
    expect(all.find((e) => e.action === 'customer.update').before.budgets[0].limit).toBe(5);
  });

  it('state survives a restart: customers, plans and keys as written, revoked keys still revoked', async () => {
    const third = await admin('POST', '/admin/customers/runtime-3/keys', { name: 'survivor' });
    const versionBefore = (await admin('GET', '/admin/control')).body.version;
    await tg.stop();
    tg = await launch(tg.configFile, tg.dataDir);
    const shards = await perShard();
    for (const s of shards.values()) expect(s.version).toBe(versionBefore);
    expect((await chat(third.body.key)).status).toBe(200);
    expect((await chat(key)).status).toBe(401);
    expect((await admin('GET', '/admin/plans')).body.plans.map((p: any) => [p.name, p.configured])).toEqual([['file-plan', true], ['starter', false]]);
    const view = await admin('GET', '/admin/customers/runtime-1');
    expect(view.body.budgets.find((b: any) => b.source === 'customer')).toMatchObject({ limit: 7, used: 0 }); // the reset holds across the restart
    await new Promise((r) => setTimeout(r, 10));
    expect((await admin('DELETE', '/admin/customers/runtime-3')).status).toBe(200);
    expect((await chat(third.body.key)).status).toBe(401);
  });
});
