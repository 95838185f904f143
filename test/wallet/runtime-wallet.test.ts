import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { call, CALL_NANO, OUT, PROMPT } from '../cluster/cluster-fixtures.js';

// A customer created through the admin API gets a wallet like a configured
// one (its wallet hangs off the same resolved customer config), and every
// credit lands in the admin audit log with the token that wrote it.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const post = (path: string, body: unknown) =>
  fetch(`${tg.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
    .then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

describe('a runtime customer\'s wallet', () => {
  beforeAll(async () => {
    mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 5 });
    tg = await startTollgate({ providers: providers(mock.url) }, { clockStart: TEST_CLOCK, shards: 2 });
  });

  afterAll(async () => {
    await tg?.stop();
    await mock?.close();
  });

  it('refuses, serves after a top-up, and refuses again once the credit is used', async () => {
    expect((await post('/admin/customers', { id: 'rt', wallet: { currency: 'USD', topUpUrl: 'https://pay.example.com/{customer}' } })).status).toBe(201);
    const key = (await post('/admin/customers/rt/keys', { name: 'k' })).body.key as string;
    const first = await call(tg, 0, key);
    expect(first.status).toBe(402);
    expect((await post('/admin/customers/rt/credits', { amount: (CALL_NANO * 2.5) / 1e9, idempotency_key: 'rt-1' })).status).toBe(200);
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await call(tg, i, key)).status);
    expect(statuses).toEqual([200, 200, 402, 402]);
    const w = await tg.admin('/admin/customers/rt/wallet');
    expect(Math.round(w.balance.amount * 1e9)).toBe(Math.round(CALL_NANO * 0.5));
  });

  it('writes one audit entry per credit, naming the admin token, and none for a repeat', async () => {
    await post('/admin/customers/rt/credits', { amount: 1, idempotency_key: 'rt-2', reference: 'inv-9' });
    await post('/admin/customers/rt/credits', { amount: 1, idempotency_key: 'rt-2', reference: 'inv-9' });
    const { entries } = await tg.admin('/admin/audit');
    const credits = entries.filter((e: any) => e.action === 'wallet.credit');
    expect(credits).toHaveLength(2);
    expect(credits[1]).toMatchObject({ actor: 'admin', target: 'customer:rt', after: { amount: 1, currency: 'USD', reference: 'inv-9' } });
  });
});
