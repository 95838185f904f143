import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, launch, startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers } from '../helpers/fixtures.js';
import { call, CALL_NANO, OUT, PROMPT } from '../cluster/cluster-fixtures.js';

// An issued key with `wallet` is a "virtual endpoint" with its own credit
// pool: its calls reserve from the key's wallet (and from the customer's,
// when the customer has one too); 20 parallel calls on a key wallet worth 5.5
// calls admit at most 5, top-ups are idempotent, the balance reconciles with
// the key's ledger rows to the nano-unit and survives a restart; bad input is
// refused naming the field, and nothing is written.

const SECRET = 'whsec-key-wallets';
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const send = (method: string, path: string, body?: unknown) =>
  fetch(`${tg.url}${path}`, {
    method, headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

const issue = async (customer: string, body: unknown): Promise<{ key: string; key_id: string }> => {
  const r = await send('POST', `/admin/customers/${customer}/keys`, body);
  expect(r.status, JSON.stringify(r.body)).toBe(201);
  return r.body;
};

/** Σ billed nano of the allowed rows made with one key, from the ledger. */
async function keyCharges(customer: string, keyId: string): Promise<{ nano: number; calls: number }> {
  const { rows } = await tg.admin(`/admin/usage?customer=${customer}&limit=100000`);
  const mine = rows.filter((r: any) => r.decision === 'allowed' && r.key_id === keyId);
  return { nano: mine.reduce((s: number, r: any) => s + Math.round(r.billed * 1e9), 0), calls: mine.length };
}

const nano = (m: { amount: number }) => Math.round(m.amount * 1e9);

describe('a key\'s own prepaid wallet (one node, two shards)', () => {
  let endpoint: { key: string; key_id: string };

  beforeAll(async () => {
    mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 100 });
    tg = await startTollgate({
      providers: providers(mock.url),
      wallet: { webhookSecret: SECRET },
      customers: [{ id: 'acme', keys: [CUSTOMER_KEY], wallet: { currency: 'USD' } }],
    }, { clockStart: TEST_CLOCK, shards: 2 });
    expect((await send('POST', '/admin/customers', { id: 'vendor' })).status).toBe(201);
    endpoint = await issue('vendor', { name: 'agent-a', wallet: { currency: 'USD', topUpUrl: 'https://pay.example.com/{customer}/{key_id}' } });
  });

  afterAll(async () => {
    await tg?.stop();
    await mock?.close();
  });

  it('refuses a call on an empty key wallet with 402 naming the key, period prepaid and its top-up URL', async () => {
    const r = await fetch(`${tg.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${endpoint.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: OUT }),
    });
    const body: any = await r.json();
    expect(r.status).toBe(402);
    expect(body.error.scope).toMatchObject({ customer: 'vendor', key_id: endpoint.key_id, source: 'wallet', period: 'prepaid', unit: 'USD', limit: 0, remaining: 0 });
    expect(body.error.top_up_url).toBe(`https://pay.example.com/vendor/${endpoint.key_id}`);
    expect(mock.stats().requests).toBe(0);
  });

  it('admits at most 5 of 20 parallel calls on a key wallet worth 5.5 calls, across both shards', async () => {
    const c = await send('POST', `/admin/customers/vendor/keys/${endpoint.key_id}/credits`, { amount: (CALL_NANO * 5.5) / 1e9, idempotency_key: 'order-1' });
    expect(c.status, JSON.stringify(c.body)).toBe(200);
    expect(nano(c.body.balance)).toBe(Math.round(CALL_NANO * 5.5));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call(tg, i, endpoint.key)));
    const ok = results.filter((r) => r.status === 200).length;
    expect(results.filter((r) => r.status !== 200).every((r) => r.status === 402 && r.type === 'budget_exceeded')).toBe(true);
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(ok).toBeLessThanOrEqual(5);
    expect(mock.stats().requests).toBe(ok);
    console.info(`key wallet: ${ok} of 20 parallel calls admitted on a key wallet worth 5.5 calls (one node, two shards)`);
  });

  it('leaves the customer\'s other keys alone: a key without a wallet serves, and does not debit the key wallet', async () => {
    const plain = await issue('vendor', { name: 'plain' });
    const before = await tg.admin(`/admin/customers/vendor/keys/${endpoint.key_id}/wallet`);
    expect((await call(tg, 0, plain.key)).status).toBe(200);
    const after = await tg.admin(`/admin/customers/vendor/keys/${endpoint.key_id}/wallet`);
    expect(nano(after.charged)).toBe(nano(before.charged));
  });

  it('credits once for a top-up sent twice with one idempotency key, also when the copies race', async () => {
    const path = `/admin/customers/vendor/keys/${endpoint.key_id}/credits`;
    const before = await tg.admin(`/admin/customers/vendor/keys/${endpoint.key_id}/wallet`);
    const body = { amount: 1, idempotency_key: 'order-2', reference: 'inv-7' };
    const [a, b] = await Promise.all([send('POST', path, body), send('POST', path, body)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.transaction_id).toBe(b.body.transaction_id);
    expect((await send('POST', path, body)).body.transaction_id).toBe(a.body.transaction_id);
    const after = await tg.admin(`/admin/customers/vendor/keys/${endpoint.key_id}/wallet`);
    expect(nano(after.credited) - nano(before.credited)).toBe(1e9);
    // The same idempotency key on the customer's wallet is another wallet's: not a repeat.
    const { entries } = await tg.admin('/admin/audit');
    expect(entries.filter((e: any) => e.action === 'wallet.credit' && e.target === `customer:vendor/key:${endpoint.key_id}`)).toHaveLength(2);
  });

  it('credits a key wallet from a signed top-up naming key_id', async () => {
    const raw = JSON.stringify({ customer: 'vendor', key_id: endpoint.key_id, amount: 0.5, idempotency_key: 'psp-1' });
    const sig = `sha256=${createHmac('sha256', SECRET).update(raw).digest('hex')}`;
    const r = await fetch(`${tg.url}/v1/wallet/credits`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-tollgate-signature': sig }, body: raw });
    expect(r.status).toBe(200);
    const { transaction_id } = (await r.json()) as any;
    const w = await tg.admin(`/admin/customers/vendor/keys/${endpoint.key_id}/wallet`);
    expect(w.transactions.find((t: any) => t.transaction_id === transaction_id)).toMatchObject({ type: 'credit', amount: 0.5 });
    // …and not the customer's (vendor has none: its wallet is not configured).
    expect((await send('GET', '/admin/customers/vendor/wallet')).body.error.type).toBe('wallet_not_configured');
  });

  it('keeps balance == credits − the key\'s ledger charges to the nano-unit, and after a restart', async () => {
    const check = async () => {
      const w = await tg.admin(`/admin/customers/vendor/keys/${endpoint.key_id}/wallet`);
      expect(w.key_id).toBe(endpoint.key_id);
      const credits = w.transactions.filter((t: any) => t.type !== 'debit').reduce((s: number, t: any) => s + nano(t), 0);
      const debits = w.transactions.filter((t: any) => t.type === 'debit').reduce((s: number, t: any) => s - nano(t), 0);
      const charges = await keyCharges('vendor', endpoint.key_id);
      expect(charges.calls).toBeGreaterThan(0);
      expect(debits).toBe(charges.nano);
      expect(nano(w.charged)).toBe(charges.nano);
      expect(nano(w.balance)).toBe(credits - charges.nano);
      return nano(w.balance);
    };
    const before = await check();
    const { configFile, dataDir } = tg;
    await tg.stop();
    tg = await launch(configFile, dataDir);
    expect(await check()).toBe(before);
    // The rebuilt cap serves again (1.5 USD of top-ups is worth many calls), and the balance moves by exactly one call.
    const r = await call(tg, 0, endpoint.key);
    expect(r.status).toBe(200);
    const row = await tg.usageRow('vendor', r.requestId!);
    expect(await check()).toBe(before - Math.round(row.billed * 1e9));
  });

  it('needs both pools when the customer has a wallet too: the tighter one refuses', async () => {
    const both = await issue('acme', { wallet: { currency: 'USD' } });
    expect((await send('POST', `/admin/customers/acme/keys/${both.key_id}/credits`, { amount: (CALL_NANO * 5) / 1e9, idempotency_key: 'k-1' })).status).toBe(200);
    // The customer's wallet is empty: the key's credit alone does not let the call through.
    const refused = await fetch(`${tg.url}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${both.key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: OUT }),
    });
    const body: any = await refused.json();
    expect(refused.status).toBe(402);
    expect(body.error.scope.source).toBe('wallet');
    expect(body.error.scope.key_id).toBeUndefined();
    expect((await send('POST', '/admin/customers/acme/credits', { amount: (CALL_NANO * 1.5) / 1e9, idempotency_key: 'c-1' })).status).toBe(200);
    expect([(await call(tg, 0, both.key)).status, (await call(tg, 1, both.key)).status]).toEqual([200, 402]);
    const [customer, key] = await Promise.all([tg.admin('/admin/customers/acme/wallet'), tg.admin(`/admin/customers/acme/keys/${both.key_id}/wallet`)]);
    expect(nano(customer.charged)).toBe(nano(key.charged));
    expect(nano(key.charged)).toBeGreaterThan(0);
  });

  it('refuses bad input naming the field, and writes nothing', async () => {
    const audit = (await tg.admin('/admin/audit')).entries.length;
    const keysBefore = (await tg.admin('/admin/customers/vendor/keys')).keys.length;
    const noRate = await send('POST', '/admin/customers/vendor/keys', { wallet: { currency: 'JPY' } });
    expect(noRate.status).toBe(400);
    expect(noRate.body.error.message).toMatch(/^wallet\.currency: .*JPY/);
    const badShape = await send('POST', '/admin/customers/vendor/keys', { wallet: { currency: 'usd' } });
    expect(badShape.status).toBe(400);
    expect(badShape.body.error.message).toMatch(/wallet\.currency/);
    expect((await tg.admin('/admin/customers/vendor/keys')).keys.length).toBe(keysBefore);

    const plain = (await tg.admin('/admin/customers/vendor/keys')).keys.find((k: any) => k.name === 'plain');
    const noWallet = await send('POST', `/admin/customers/vendor/keys/${plain.key_id}/credits`, { amount: 1, idempotency_key: 'x-1' });
    expect(noWallet.status).toBe(409);
    expect(noWallet.body.error.type).toBe('wallet_not_configured');
    expect(noWallet.body.error.message).toContain(plain.key_id);
    const otherCustomers = await send('POST', `/admin/customers/acme/keys/${endpoint.key_id}/credits`, { amount: 1, idempotency_key: 'x-2' });
    expect(otherCustomers.status).toBe(404);
    const negative = await send('POST', `/admin/customers/vendor/keys/${endpoint.key_id}/credits`, { amount: -1, idempotency_key: 'x-3' });
    expect(negative.status).toBe(400);
    expect(negative.body.error.message).toMatch(/^amount: /);
    expect((await send('GET', `/admin/customers/vendor/keys/key_nope/wallet`)).status).toBe(404);
    expect((await tg.admin('/admin/audit')).entries.length).toBe(audit);
  });

  it('a revoked key\'s wallet can no longer be credited, and the key answers 401', async () => {
    const k = await issue('vendor', { wallet: { currency: 'USD' } });
    expect((await send('DELETE', `/admin/customers/vendor/keys/${k.key_id}`)).status).toBe(200);
    expect((await send('POST', `/admin/customers/vendor/keys/${k.key_id}/credits`, { amount: 1, idempotency_key: 'late' })).status).toBe(404);
    expect((await call(tg, 0, k.key)).status).toBe(401);
  });
});
