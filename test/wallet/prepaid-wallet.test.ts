import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, startTollgate, launch, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, OTHER_KEY, providers } from '../helpers/fixtures.js';
import { call, CALL_NANO, CONTENT, OUT, PROMPT } from '../cluster/cluster-fixtures.js';

// One node, two shards: a wallet worth 5.5 calls under 20 parallel calls
// admits at most 5; top-ups are idempotent; the balance reconciles with the
// ledger to the nano-unit and survives a restart; an empty wallet refuses
// with 402 `period: prepaid` and its top-up URL, or in chat (message mode).

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const credit = (node: Tollgate, customer: string, body: unknown) =>
  fetch(`${node.url}/admin/customers/${customer}/credits`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

/** One chat call of known cost, with its answer's body. */
async function chat(key: string): Promise<{ status: number; body: any }> {
  const r = await fetch(`${tg.url}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: CONTENT }], max_tokens: OUT }),
  });
  return { status: r.status, body: await r.json() };
}

/** Σ billed nano of the customer's allowed rows, from the ledger. */
async function ledgerCharges(node: Tollgate, customer: string): Promise<number> {
  const { rows } = await node.admin(`/admin/usage?customer=${customer}&limit=100000`);
  return rows.filter((r: any) => r.decision === 'allowed').reduce((s: number, r: any) => s + Math.round(r.billed * 1e9), 0);
}

describe('prepaid wallet on one node (two shards)', () => {
  beforeAll(async () => {
    mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 100 });
    tg = await startTollgate({
      providers: providers(mock.url),
      customers: [
        { id: 'acme', keys: [CUSTOMER_KEY], wallet: { currency: 'USD', topUpUrl: 'https://pay.example.com/topup?c={customer}' } },
        { id: 'chatty', keys: [OTHER_KEY], wallet: { currency: 'USD' }, refusal: { mode: 'message', topUpUrl: 'https://pay.example.com/{customer}' } },
      ],
    }, { clockStart: TEST_CLOCK, shards: 2 });
  });

  afterAll(async () => {
    await tg?.stop();
    await mock?.close();
  });

  it('refuses a call on an empty wallet with 402, scope.period prepaid and the top-up URL', async () => {
    const { status, body } = await chat(CUSTOMER_KEY);
    expect(status).toBe(402);
    expect(body.error.type).toBe('budget_exceeded');
    expect(body.error.scope).toMatchObject({ customer: 'acme', period: 'prepaid', source: 'wallet', unit: 'USD', limit: 0, remaining: 0, resets_at: null });
    expect(body.error.top_up_url).toBe('https://pay.example.com/topup?c=acme');
    expect(mock.stats().requests).toBe(0);
  });

  it('admits at most 5 of 20 parallel calls on a wallet worth 5.5 calls, across both shards', async () => {
    const c = await credit(tg, 'acme', { amount: (CALL_NANO * 5.5) / 1e9, idempotency_key: 'order-1', reference: 'stripe:pi_1' });
    expect(c.status).toBe(200);
    expect(c.body.transaction_id).toMatch(/^wtx_/);
    expect(c.body.balance.currency).toBe('USD');
    expect(Math.round(c.body.balance.amount * 1e9)).toBe(Math.round(CALL_NANO * 5.5));
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call(tg, i, CUSTOMER_KEY)));
    const ok = results.filter((r) => r.status === 200).length;
    expect(results.filter((r) => r.status !== 200).every((r) => r.status === 402)).toBe(true);
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(ok).toBeLessThanOrEqual(5);
    expect(mock.stats().requests).toBe(ok);
    console.info(`wallet: ${ok} of 20 parallel calls admitted on a wallet worth 5.5 calls (one node, two shards)`);
  });

  it('credits once for a top-up sent twice with one idempotency key (also when both copies race)', async () => {
    const before = await tg.admin('/admin/customers/acme/wallet');
    const body = { amount: 1, idempotency_key: 'order-2' };
    const [a, b] = await Promise.all([credit(tg, 'acme', body), credit(tg, 'acme', body)]);
    expect(a.status).toBe(200);
    expect(b.status).toBe(200);
    expect(a.body.transaction_id).toBe(b.body.transaction_id);
    const again = await credit(tg, 'acme', body);
    expect(again.body.transaction_id).toBe(a.body.transaction_id);
    const after = await tg.admin('/admin/customers/acme/wallet');
    expect(Math.round((after.credited.amount - before.credited.amount) * 1e9)).toBe(1e9);
    expect(after.transactions.filter((t: any) => t.type === 'credit').length).toBe(2);
  });

  it('keeps balance == credits − the ledger\'s charges to the nano-unit, and after a restart', async () => {
    const check = async (node: Tollgate) => {
      const w = await node.admin('/admin/customers/acme/wallet');
      const credits = w.transactions.filter((t: any) => t.type !== 'debit').reduce((s: number, t: any) => s + Math.round(t.amount * 1e9), 0);
      const debits = w.transactions.filter((t: any) => t.type === 'debit').reduce((s: number, t: any) => s - Math.round(t.amount * 1e9), 0);
      const charges = await ledgerCharges(node, 'acme');
      expect(charges).toBeGreaterThan(0);
      expect(debits).toBe(charges);
      expect(Math.round(w.balance.amount * 1e9)).toBe(credits - charges);
      return w.balance.amount;
    };
    const before = await check(tg);
    const { configFile, dataDir } = tg;
    await tg.stop();
    tg = await launch(configFile, dataDir);
    expect(await check(tg)).toBe(before);
    // The rebuilt cap serves calls again: the extra 1 USD top-up is worth many calls.
    expect((await call(tg, 0, CUSTOMER_KEY)).status).toBe(200);
  });

  it('refuses in chat (refusal mode message) with the top-up link when the wallet is empty', async () => {
    const { status, body } = await chat(OTHER_KEY);
    expect(status).toBe(200);
    expect(body.choices[0].message.content).toMatch(/prepaid AI credit has run out/);
    expect(body.choices[0].message.content).toContain('https://pay.example.com/chatty');
  });

  it('records refunds and adjustments as transactions that move the balance, and refuses a refund beyond it', async () => {
    const before = await tg.admin('/admin/customers/acme/wallet');
    const nano = (m: { amount: number }) => Math.round(m.amount * 1e9);
    const refund = await credit(tg, 'acme', { type: 'refund', amount: 0.25, idempotency_key: 'refund-1', reference: 'ticket 42' });
    expect(refund.status).toBe(200);
    expect(nano(refund.body.balance)).toBe(nano(before.balance) - 250_000_000);
    const adjust = await credit(tg, 'acme', { type: 'adjustment', amount: -0.05, idempotency_key: 'adj-1' });
    expect(nano(adjust.body.balance)).toBe(nano(before.balance) - 300_000_000);
    const tooMuch = await credit(tg, 'acme', { type: 'refund', amount: 1000, idempotency_key: 'refund-2' });
    expect(tooMuch.status).toBe(400);
    expect(tooMuch.body.error.message).toMatch(/^amount: a refund of 1000 USD is more than the balance/);
    const after = await tg.admin('/admin/customers/acme/wallet');
    expect(after.transactions.filter((t: any) => t.type === 'refund')).toMatchObject([{ amount: -0.25, reference: 'ticket 42' }]);
    expect(after.transactions.filter((t: any) => t.type === 'adjustment')).toMatchObject([{ amount: -0.05 }]);
    expect(nano(after.credited)).toBe(nano(before.credited) - 300_000_000);
  });

  it('answers 4xx naming the field for bad top-ups, and credits nothing', async () => {
    const before = await tg.admin('/admin/customers/acme/wallet');
    const cases: [unknown, number, RegExp][] = [
      [{ amount: -1, idempotency_key: 'k1' }, 400, /^amount:/],
      [{ amount: 0, idempotency_key: 'k2' }, 400, /^amount:/],
      [{ amount: 'ten', idempotency_key: 'k3' }, 400, /^amount:/],
      [{ amount: 1 }, 400, /^idempotency_key:/],
      [{ amount: 1, idempotency_key: 'k4', currency: 'GBP' }, 400, /^currency: no exchange rate for GBP/],
      [{ amount: 1, idempotency_key: 'k5', currency: 'pounds' }, 400, /^currency:/],
    ];
    for (const [body, status, message] of cases) {
      const r = await credit(tg, 'acme', body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.body.error.message).toMatch(message);
    }
    const none = await credit(tg, 'nobody', { amount: 1, idempotency_key: 'k6' });
    expect(none.status).toBe(409);
    expect(none.body.error.type).toBe('wallet_not_configured');
    const after = await tg.admin('/admin/customers/acme/wallet');
    expect(after.credited).toEqual(before.credited);
  });
});
