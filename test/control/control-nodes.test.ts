import { afterAll, beforeAll, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, launch, startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { describeWithRedis, startRedis, type RedisProcess } from '../helpers/redis-process.js';

// Issue 13, many nodes: two real processes on one redis-server. A write on
// one node serves on the other within 1 s (revoked keys included); a node
// that was down while writes happened catches up by version when it starts.

let redis: RedisProcess;
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let a: Tollgate;
let b: Tollgate;

const admin = async (node: Tollgate, method: string, path: string, body?: unknown) => {
  const r = await fetch(node.url + path, { method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  return { status: r.status, body: (await r.json()) as any };
};
const chat = async (node: Tollgate, key: string) => (await fetch(`${node.url}/v1/chat/completions`, {
  method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
  body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 }),
})).status;

/** Polls `check` until it returns true; resolves with the ms it took, or throws after `ms`. */
async function within(ms: number, check: () => Promise<boolean>): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (await check()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`not true within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describeWithRedis('control plane across two nodes', () => {
  beforeAll(async () => {
    redis = await startRedis();
    mock = await startMockUpstream({ completionTokens: 5 });
    const config = { providers: providers(mock.url), redis: redis.url };
    // One after the other: two starts at once on a loaded machine can pass the helper's 20 s start limit.
    a = await startTollgate(config, { clockStart: TEST_CLOCK });
    b = await startTollgate(config, { clockStart: TEST_CLOCK });
  });

  afterAll(async () => {
    await Promise.allSettled([a?.stop(), b?.stop()]);
    await mock?.close();
    await redis?.stop();
  });

  let key = '';
  let keyId = '';

  it('a customer and key created on A serve on B within 1 s', async () => {
    expect((await admin(a, 'POST', '/admin/customers', { id: 'n-1', budgets: [{ limit: 5, unit: 'USD', period: 'month' }] })).status).toBe(201);
    const issued = await admin(a, 'POST', '/admin/customers/n-1/keys', { name: 'both' });
    expect(issued.status).toBe(201);
    key = issued.body.key;
    keyId = issued.body.key_id;
    // Visible on B: its key directory knows the key (the first call's answer may then wait on B's first budget lease).
    const took = await within(1_000, async () => (await admin(b, 'GET', '/admin/customers/n-1/keys')).body.keys?.length === 1);
    expect(took).toBeLessThan(1_000);
    expect(await chat(b, key)).toBe(200);
    expect(await chat(a, key)).toBe(200);
    // Both nodes hold the same version, and B's audit log has A's writes.
    expect((await admin(b, 'GET', '/admin/control')).body.version).toBe((await admin(a, 'GET', '/admin/control')).body.version);
    expect((await admin(b, 'GET', '/admin/audit')).body.entries.map((e: any) => e.action)).toEqual(['customer.create', 'key.create']);
  });

  it('writes on both nodes are applied in one order everywhere', async () => {
    const writes = await Promise.all(Array.from({ length: 20 }, (_, i) => admin(i % 2 ? a : b, 'POST', '/admin/customers', { id: `n-many-${i}` })));
    expect(writes.map((w) => w.status)).toEqual(Array(20).fill(201));
    await within(1_000, async () => (await admin(a, 'GET', '/admin/control')).body.version === (await admin(b, 'GET', '/admin/control')).body.version);
    const [la, lb] = await Promise.all([a, b].map(async (n) => (await admin(n, 'GET', '/admin/customers?prefix=n-many-&limit=100')).body.customers.length));
    expect([la, lb]).toEqual([20, 20]);
  });

  it('a key revoked on A gets 401 on B within 1 s', async () => {
    expect(await chat(b, key)).toBe(200);
    expect((await admin(a, 'DELETE', `/admin/customers/n-1/keys/${keyId}`)).status).toBe(200);
    expect(await chat(a, key)).toBe(401);
    const took = await within(1_000, async () => (await chat(b, key)) === 401);
    expect(took).toBeLessThan(1_000);
  });

  it('a key budget worth 3 calls is one budget across both nodes: at most 3 of 12 parallel calls on A and B', async () => {
    const issued = await admin(a, 'POST', '/admin/customers/n-1/keys', { name: 'pool', budgets: [{ limit: 3, unit: 'requests', period: 'day' }] });
    expect(issued.status, JSON.stringify(issued.body)).toBe(201);
    await within(1_000, async () => (await admin(b, 'GET', '/admin/customers/n-1/keys')).body.keys?.some((k: any) => k.key_id === issued.body.key_id));
    const statuses = await Promise.all(Array.from({ length: 12 }, (_, i) => chat(i % 2 ? b : a, issued.body.key)));
    expect(statuses.filter((s) => s !== 200 && s !== 402)).toEqual([]);
    expect(statuses.filter((s) => s === 200).length).toBeLessThanOrEqual(3);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    // Leases settle and idle ones go back: whatever is left of the 3 is still usable, never more.
    await new Promise((r) => setTimeout(r, 1_500));
    const more = await Promise.all(Array.from({ length: 6 }, (_, i) => chat(i % 2 ? b : a, issued.body.key)));
    expect(statuses.concat(more).filter((s) => s === 200).length).toBeLessThanOrEqual(3);
  });

  it('refuses a spend reset with 409 not_in_cluster_mode and writes nothing (Redis would undo it)', async () => {
    const version = (await admin(a, 'GET', '/admin/control')).body.version;
    const audit = (await admin(a, 'GET', '/admin/audit')).body.entries.length;
    const r = await admin(a, 'POST', '/admin/customers/n-1/budgets/reset', { reason: 'support ticket 12' });
    expect(r.status).toBe(409);
    expect(r.body.error.type).toBe('not_in_cluster_mode');
    expect(r.body.error.message).toMatch(/raise the budget/);
    expect((await admin(a, 'GET', '/admin/control')).body.version).toBe(version);
    expect((await admin(a, 'GET', '/admin/audit')).body.entries.length).toBe(audit);
  });

  it('B restarted after missing writes catches up by version; its state survives', async () => {
    await b.stop();
    const later = await admin(a, 'POST', '/admin/customers/n-1/keys', { name: 'while-b-was-down' });
    expect(later.status).toBe(201);
    b = await launch(b.configFile, b.dataDir);
    expect(await chat(b, later.body.key)).toBe(200);
    expect(await chat(b, key)).toBe(401);
    expect((await admin(b, 'GET', '/admin/control')).body.version).toBe((await admin(a, 'GET', '/admin/control')).body.version);
  });
});
