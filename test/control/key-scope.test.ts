import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { freshRequest } from '../helpers/fresh-request.js';

// Issue 13 item 2, real process on two shards: a key issued with its own
// budgets and rateLimit is a "virtual endpoint" — its calls reserve on the
// key's budget on top of the customer's, the 402/429 name the key, other
// keys of the customer are unaffected, and its slots count against the
// budget table like a runtime customer's.

const OPS_TOKEN = 'ops-admin-token-0123456789';
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 10, latencyMs: 50 });
  tg = await startTollgate({
    providers: providers(mock.url),
    adminTokens: [{ name: 'ops', token: OPS_TOKEN, role: 'admin' }],
    // Room for the two file budgets below and 4 more slots: the capacity case fills it.
    maxBudgetSlots: 6,
    control: { slotHeadroom: 4 },
    plans: [{ name: 'file-plan', budgets: [{ limit: 100, unit: 'requests', period: 'day' }] }],
    customers: [{ id: 'file-customer', plan: 'file-plan', keys: ['tg-file-customer-key-1'], budgets: [{ limit: 50, unit: 'requests', period: 'day' }] }],
  }, { clockStart: TEST_CLOCK, shards: 2 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const fresh = (method: string, path: string, headers: Record<string, string>, body?: unknown) => freshRequest(tg.port, method, path, headers, body);

const admin = (method: string, path: string, body?: unknown) => fresh(method, path, { authorization: `Bearer ${OPS_TOKEN}` }, body);
const chat = (key: string) => fresh('POST', '/v1/chat/completions', { authorization: `Bearer ${key}` }, { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 10 });
/** The customer's own budget's `used`, polled until it equals `want` (a settle may land just after its answer). */
async function customerUsed(want: number): Promise<number> {
  let used = -1;
  for (let i = 0; i < 100 && used !== want; i++) {
    if (i) await new Promise((r) => setTimeout(r, 20));
    used = (await admin('GET', '/admin/customers/file-customer')).body.budgets.find((b: any) => b.source === 'customer').used;
  }
  return used;
}

const issue = async (body: unknown) => {
  const r = await admin('POST', '/admin/customers/file-customer/keys', body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body as { key: string; key_id: string };
};

describe('a key with its own budgets and rateLimit', () => {
  it('a key budget worth 3 calls allows at most 3 of 12 parallel calls while the customer is under; a second key is unaffected', async () => {
    const small = await issue({ name: 'small', budgets: [{ limit: 3, unit: 'requests', period: 'day' }] });
    const other = await issue({ name: 'other' });
    const calls = await Promise.all(Array.from({ length: 12 }, () => chat(small.key)));
    const ok = calls.filter((c) => c.status === 200).length;
    expect(ok).toBe(3);
    const refused = calls.filter((c) => c.status !== 200);
    expect(refused.map((c) => c.status)).toEqual(Array(9).fill(402));
    const scope = refused[0]!.body.error.scope;
    expect(scope).toMatchObject({ customer: 'file-customer', key_id: small.key_id, source: 'key', unit: 'requests', limit: 3 });
    expect(refused[0]!.body.error.message).toContain(`key "${small.key_id}"`);
    // The customer is still under its own budgets: its other key serves.
    const more = await Promise.all(Array.from({ length: 5 }, () => chat(other.key)));
    expect(more.map((c) => c.status)).toEqual(Array(5).fill(200));
    expect((await chat('tg-file-customer-key-1')).status).toBe(200);
    // The key's calls counted for the customer too: 3 + 5 + 1 of its 50.
    expect(await customerUsed(9)).toBe(9);
    // Usage rows name the issued key that made the call (and only then).
    const row = await tg.usageRow('file-customer', String(calls.find((c) => c.status === 200)!.headers['x-tollgate-request-id']));
    expect(row.key_id).toBe(small.key_id);
    const plain = await tg.usageRow('file-customer', String((await chat('tg-file-customer-key-1')).headers['x-tollgate-request-id']));
    expect(plain.key_id).toBeUndefined();
  });

  it('a key rateLimit of 5 per minute: the 6th call gets 429 naming the key', async () => {
    const limited = await issue({ name: 'rl', rateLimit: { requestsPerMinute: 5 } });
    for (let i = 0; i < 5; i++) expect((await chat(limited.key)).status).toBe(200);
    const sixth = await chat(limited.key);
    expect(sixth.status).toBe(429);
    expect(sixth.body.error.limit).toMatchObject({ source: 'key', key_id: limited.key_id, limit: 5 });
    expect(sixth.body.error.message).toContain(`key "${limited.key_id}"`);
    // Another key of the customer is not limited by it.
    expect((await chat('tg-file-customer-key-1')).status).toBe(200);
  });

  it('a budget in a currency with no rate is refused with 400 naming the field', async () => {
    const gbp = await admin('POST', '/admin/customers/file-customer/keys', { budgets: [{ limit: 1, unit: 'GBP', period: 'day' }] });
    expect(gbp.status).toBe(400);
    expect(gbp.body.error.message).toMatch(/budgets\[0\]\.unit/);
  });

  it('key budget slots come from the budget table: a key needing more than is left gets 507; a revoked key keeps what it spent out of the customer\'s budgets', async () => {
    // 6 slots: 2 for the file budgets, 1 for the key "small": 3 left.
    const budget = (limit: number) => ({ limit, unit: 'requests', period: 'day' });
    const full = await admin('POST', '/admin/customers/file-customer/keys', { budgets: [budget(1), budget(2), budget(3), budget(4)] });
    expect(full.status, JSON.stringify(full.body)).toBe(507);
    expect(full.body.error.type).toBe('capacity_exhausted');
    // A key's own wallet is one more slot: 3 budgets fit, 3 budgets and a wallet do not.
    const walletToo = await admin('POST', '/admin/customers/file-customer/keys', { budgets: [budget(1), budget(2), budget(3)], wallet: { currency: 'USD' } });
    expect(walletToo.status, JSON.stringify(walletToo.body)).toBe(507);
    const one = await issue({ budgets: [{ limit: 1, unit: 'requests', period: 'day' }] });
    expect((await chat(one.key)).status).toBe(200);
    const before = await customerUsed(17); // 10 (first case) + 6 (rate-limit case) + this call
    expect((await admin('DELETE', `/admin/customers/file-customer/keys/${one.key_id}`)).status).toBe(200);
    expect((await chat(one.key)).status).toBe(401);
    expect(await customerUsed(before)).toBe(before);
  });
  it('the customer\'s budget still binds a key with a larger one of its own', async () => {
    const big = await issue({ name: 'big', budgets: [{ limit: 1000, unit: 'requests', period: 'day' }] });
    expect((await admin('POST', '/admin/customers/file-customer/budgets/reset', { reason: 'key-scope test' })).status).toBe(200);
    const left = 50;
    const calls = await Promise.all(Array.from({ length: left + 4 }, () => chat(big.key)));
    expect(calls.filter((c) => c.status === 200).length).toBe(left);
    const refusal = calls.find((c) => c.status === 402)!.body.error.scope;
    expect(refusal.source).toBe('customer');
    expect(refusal.key_id).toBeUndefined();
  });
});
