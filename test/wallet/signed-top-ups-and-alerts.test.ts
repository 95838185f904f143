import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers } from '../helpers/fixtures.js';
import { call, CALL_NANO, OUT, PROMPT, waitFor } from '../cluster/cluster-fixtures.js';

// The signed top-up endpoint (a payment provider's notification) and the
// low-balance alert of a wallet, delivered through the alert outbox to an
// in-test webhook receiver.

const SECRET = 'whsec_test_0123456789abcdef';
const HOOK_SECRET = 'hook-secret-123';
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
let hook: Server;
const received: { body: any; signature: string | undefined }[] = [];

const sign = (raw: string, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(raw).digest('hex')}`;
const signedCredit = (raw: string, signature?: string) =>
  fetch(`${tg.url}/v1/wallet/credits`, {
    method: 'POST', headers: { 'content-type': 'application/json', ...(signature !== undefined ? { 'x-tollgate-signature': signature } : {}) }, body: raw,
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

describe('signed top-ups and low-balance alerts', () => {
  beforeAll(async () => {
    hook = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push({ body: JSON.parse(body), signature: req.headers['x-tollgate-signature'] as string | undefined });
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.listen(0, '127.0.0.1', () => r()));
    mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 5 });
    tg = await startTollgate({
      providers: providers(mock.url),
      wallet: { webhookSecret: SECRET },
      alerts: { channels: [{ name: 'ops', type: 'webhook', url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/hook`, secret: HOOK_SECRET }] },
      customers: [{ id: 'acme', keys: [CUSTOMER_KEY], wallet: { currency: 'USD', lowBalance: [{ below: (CALL_NANO * 2.5) / 1e9, notify: ['ops'] }], topUpUrl: 'https://pay.example.com/{customer}' } }],
    }, { clockStart: TEST_CLOCK, shards: 2 });
  });

  afterAll(async () => {
    await tg?.stop();
    await mock?.close();
    await new Promise((r) => hook?.close(r));
  });

  it('refuses a top-up with a missing or wrong signature with 401 and credits nothing', async () => {
    const raw = JSON.stringify({ customer: 'acme', amount: 100, idempotency_key: 'evt_forged' });
    const missing = await signedCredit(raw);
    expect(missing.status).toBe(401);
    expect(missing.body.error.type).toBe('authentication_error');
    expect((await signedCredit(raw, sign(raw, 'another-secret-0000'))).status).toBe(401);
    // Signed, then altered: the signature covers the raw body.
    expect((await signedCredit(raw.replace('100', '1000'), sign(raw))).status).toBe(401);
    const w = await tg.admin('/admin/customers/acme/wallet');
    expect(w.credited.amount).toBe(0);
    expect(w.transactions).toEqual([]);
  });

  it('credits a correctly signed top-up once per idempotency key, naming bad fields with 400', async () => {
    const raw = JSON.stringify({ customer: 'acme', amount: (CALL_NANO * 4) / 1e9, idempotency_key: 'evt_1', reference: 'cs_test_1' });
    const a = await signedCredit(raw, sign(raw));
    expect(a.status).toBe(200);
    const b = await signedCredit(raw, sign(raw));
    expect(b.body.transaction_id).toBe(a.body.transaction_id);
    expect(Math.round(b.body.balance.amount * 1e9)).toBe(CALL_NANO * 4);
    const noCustomer = JSON.stringify({ amount: 1, idempotency_key: 'evt_2' });
    const r = await signedCredit(noCustomer, sign(noCustomer));
    expect(r.status).toBe(400);
    expect(r.body.error.message).toMatch(/^customer:/);
    const big = 'x'.repeat(20_000);
    expect((await signedCredit(big, sign(big))).status).toBe(413);
    const w = await tg.admin('/admin/customers/acme/wallet');
    expect(w.transactions).toMatchObject([{ type: 'credit', reference: 'cs_test_1', transaction_id: a.body.transaction_id }]);
  });

  it('alerts once when the balance falls below a lowBalance threshold, signed like every webhook', async () => {
    // 4 calls credited, alert below 2.5: the second call crosses it, the third stays under.
    for (let i = 0; i < 3; i++) expect((await call(tg, 0, CUSTOMER_KEY)).status).toBe(200);
    await waitFor(async () => received.some((r) => r.body.event === 'low_balance'), 10_000);
    await new Promise((r) => setTimeout(r, 1_000)); // a second alert would come within a few checks
    const lows = received.filter((r) => r.body.event === 'low_balance');
    expect(lows.length).toBe(1);
    expect(lows[0]!.body).toMatchObject({ customer: 'acme', threshold: (CALL_NANO * 2.5) / 1e9, budget: { unit: 'USD', period: 'prepaid' }, top_up_url: 'https://pay.example.com/acme' });
    expect(lows[0]!.body.balance).toBeLessThan((CALL_NANO * 2.5) / 1e9);
    expect(lows[0]!.signature).toBe(sign(JSON.stringify(lows[0]!.body), HOOK_SECRET));
  });
});
