import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import OpenAI from 'openai';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { APP_KEY, CUSTOMER_KEY, expectedCostUsd, providers, sleep } from '../helpers/fixtures.js';

// Monitoring mode against the real proxy with two shards: apps that call the
// model themselves authorize, report events and release through Tollgate,
// sharing budgets, pricing and the ledger with proxied calls.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const PROMPT = 40;
const OUT = 20;
const CALL_USD = expectedCostUsd('gpt-4o-mini', { prompt: PROMPT, completion: OUT });
const SHARED_KEY = 'tg-shared-key-01';
const TTL_KEY = 'tg-ttl-key-0001';
const RESOLD_KEY = 'tg-resold-key-01';

interface Reply { status: number; body: any }

/** POST on a fresh connection each time, so calls spread over the shards (SO_REUSEPORT). */
function post(path: string, body: unknown, key = CUSTOMER_KEY, headers: Record<string, string> = {}): Promise<Reply> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${tg.url}${path}`, {
      method: 'POST',
      agent: false,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

const usdBudget = async (customer: string) => (await tg.admin(`/admin/customers/${customer}`)).budgets.find((b: any) => b.unit === 'USD');
const event = (over: Record<string, unknown>) => ({ model: 'gpt-4o-mini', prompt_tokens: PROMPT, completion_tokens: OUT, ...over });

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT });
  tg = await startTollgate({
    providers: providers(mock.url),
    monitoring: { reservationTtl: '1s' },
    customers: [
      { id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] },
      // Worth six calls: proxied and monitored calls draw on the same counter.
      { id: 'shared', keys: [SHARED_KEY], budgets: [{ limit: CALL_USD * 6, unit: 'USD', period: 'month' }] },
      { id: 'ttl', keys: [TTL_KEY], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] },
      { id: 'resold', keys: [RESOLD_KEY], markup: 1.3, budgets: [{ limit: 100, unit: 'USD', period: 'month' }] },
    ],
    appKeys: [APP_KEY],
  }, { clockStart: TEST_CLOCK, shards: 2 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

describe('monitoring mode', () => {
  it('authorizes, settles an event at the table price and records it in the ledger', async () => {
    const auth = await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: OUT, estimated_prompt_tokens: PROMPT });
    expect(auth.status).toBe(200);
    expect(auth.body).toMatchObject({ allowed: true, model: 'gpt-4o-mini' });
    expect(auth.body.reservation_id).toMatch(/^rsv_[01]_/);
    expect(Date.parse(auth.body.expires_at)).toBeGreaterThan(tg.now());

    const ev = await post('/v1/usage/events', event({ reservation_id: auth.body.reservation_id, idempotency_key: 'first-event' }), CUSTOMER_KEY, { 'x-tollgate-agent': 'ignored-agent' });
    expect(ev.status).toBe(200);
    expect(ev.body.reservation).toBe('settled');
    expect(ev.body.cost_usd).toBeCloseTo(CALL_USD, 12);

    const { rows } = await tg.admin('/admin/usage?customer=acme');
    const row = rows.find((r: any) => r.request_id === ev.body.request_id);
    expect(row).toMatchObject({ endpoint: '/v1/usage/events', model: 'gpt-4o-mini', prompt_tokens: PROMPT, completion_tokens: OUT, decision: 'allowed', idempotency_key: 'first-event', usage_source: 'reported', status: 200 });
    // The reservation's scope (no agent at authorize time) is the one charged.
    expect(row.agent).toBeNull();
    expect((await usdBudget('acme')).reserved).toBe(0);
  });

  it('charges an event retried with the same key once, even with the retries in flight on both shards at once', async () => {
    const before = (await usdBudget('acme')).used;
    const auth = await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: OUT });
    const replies = await Promise.all(Array.from({ length: 16 }, () => post('/v1/usage/events', event({ reservation_id: auth.body.reservation_id, idempotency_key: 'retried-1' }))));
    expect(replies.every((r) => r.status === 200)).toBe(true);
    expect(new Set(replies.map((r) => r.body.request_id)).size).toBe(1);
    expect(replies.filter((r) => !r.body.duplicate)).toHaveLength(1);

    // Without a reservation the key alone decides where the event runs: still one charge.
    const loose = await Promise.all(Array.from({ length: 16 }, () => post('/v1/usage/events', event({ idempotency_key: 'retried-2' }))));
    expect(loose.every((r) => r.status === 200)).toBe(true);
    expect(new Set(loose.map((r) => r.body.request_id)).size).toBe(1);

    const { rows } = await tg.admin('/admin/usage?customer=acme');
    expect(rows.filter((r: any) => r.idempotency_key === 'retried-1')).toHaveLength(1);
    expect(rows.filter((r: any) => r.idempotency_key === 'retried-2')).toHaveLength(1);
    const after = await usdBudget('acme');
    expect(after.used - before).toBeCloseTo(2 * CALL_USD, 9);
    expect(after.reserved).toBe(0);
  });

  it('settles and releases a reservation from whichever shard the later call lands on', async () => {
    const auths = await Promise.all(Array.from({ length: 24 }, () => post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: OUT })));
    const ids: string[] = auths.map((a) => a.body.reservation_id);
    // Fresh connections spread over both shards, so some follow-ups cross shards.
    expect(new Set(ids.map((id) => id.slice(0, 6)))).toEqual(new Set(['rsv_0_', 'rsv_1_']));
    expect((await usdBudget('acme')).reserved).toBeGreaterThan(0);
    const settled = await Promise.all(ids.slice(0, 12).map((id, i) => post('/v1/usage/events', event({ reservation_id: id, idempotency_key: `cross-${i}` }))));
    expect(settled.map((r) => r.body.reservation)).toEqual(Array(12).fill('settled'));
    const released = await Promise.all(ids.slice(12).map((id) => post('/v1/usage/release', { reservation_id: id })));
    expect(released.map((r) => r.body)).toEqual(Array(12).fill({ released: true, reservation: 'released' }));
    const again = await post('/v1/usage/release', { reservation_id: ids[12] });
    expect(again.body).toEqual({ released: false, reservation: 'released' });
    expect((await usdBudget('acme')).reserved).toBe(0);
  });

  it('expires an unsettled reservation, returning its hold; a late event is still charged', async () => {
    const auth = await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: 1000 }, TTL_KEY);
    expect((await usdBudget('ttl')).reserved).toBeGreaterThan(0);
    // TTL 1 s, swept every second.
    let reserved = 1;
    for (let i = 0; i < 40 && reserved > 0; i++) {
      await sleep(100);
      reserved = (await usdBudget('ttl')).reserved;
    }
    expect(reserved).toBe(0);
    const late = await post('/v1/usage/events', event({ reservation_id: auth.body.reservation_id, idempotency_key: 'late-1' }), TTL_KEY);
    expect(late.body.reservation).toBe('expired');
    const b = await usdBudget('ttl');
    expect(b.used).toBeCloseTo(CALL_USD, 9);
    expect(b.reserved).toBe(0);
  });

  it('bills an event with the customer\'s markup, and its budget counts the billed amount', async () => {
    const auth = await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: OUT }, RESOLD_KEY);
    const ev = await post('/v1/usage/events', event({ reservation_id: auth.body.reservation_id, idempotency_key: 'resold-1' }), RESOLD_KEY);
    expect(ev.body.cost_usd).toBeCloseTo(CALL_USD, 12);
    expect(ev.body.billed).toBeCloseTo(CALL_USD * 1.3, 12);
    expect((await usdBudget('resold')).used).toBeCloseTo(CALL_USD * 1.3, 9);
    const report = await tg.admin('/admin/reports/monthly?customer=resold');
    expect(report.totals.markup).toBe(1.3);
    expect(report.totals.margin_usd).toBeCloseTo(CALL_USD * 0.3, 9);
  });

  it('keeps another customer\'s reservation out of reach', async () => {
    const auth = await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: OUT });
    const other = await post('/v1/usage/release', { reservation_id: auth.body.reservation_id }, TTL_KEY);
    expect(other.body).toEqual({ released: false, reservation: 'unknown' });
    const mine = await post('/v1/usage/release', { reservation_id: auth.body.reservation_id });
    expect(mine.body.released).toBe(true);
  });

  it('stops a monitoring app and a proxied app of the same customer at the same cap', async () => {
    const client = new OpenAI({ apiKey: SHARED_KEY, baseURL: `${tg.url}/v1`, maxRetries: 0 });
    let proxiedOk = 0;
    let monitoredOk = 0;
    const outcomes: string[] = [];
    for (let i = 0; i < 10; i++) {
      try {
        await client.chat.completions.create({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x'.repeat(120) }], max_tokens: OUT });
        proxiedOk++;
        outcomes.push('proxied');
      } catch (err) {
        expect((err as any).status).toBe(402);
        outcomes.push('proxied-402');
      }
      const auth = await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: OUT, estimated_prompt_tokens: PROMPT }, SHARED_KEY);
      if (auth.status === 200) {
        const ev = await post('/v1/usage/events', event({ reservation_id: auth.body.reservation_id, idempotency_key: `shared-${i}` }), SHARED_KEY);
        expect(ev.status).toBe(200);
        monitoredOk++;
        outcomes.push('monitored');
      } else {
        expect(auth.status).toBe(402);
        expect(auth.body.error).toMatchObject({ type: 'budget_exceeded', code: 'budget_exceeded' });
        expect(auth.body.error.scope).toMatchObject({ customer: 'shared', unit: 'USD', period: 'month' });
        outcomes.push('monitored-402');
      }
    }
    // Six calls' worth between the two apps, give or take one for estimation.
    expect(proxiedOk + monitoredOk).toBeGreaterThanOrEqual(5);
    expect(proxiedOk + monitoredOk).toBeLessThanOrEqual(6);
    expect(proxiedOk).toBeGreaterThan(0);
    expect(monitoredOk).toBeGreaterThan(0);
    // Once capped, both paths refuse.
    expect(outcomes.slice(-2)).toEqual(['proxied-402', 'monitored-402']);

    const b = await usdBudget('shared');
    expect(b.used).toBeLessThanOrEqual(CALL_USD * 6 + 1e-9);
    expect(b.reserved).toBe(0);
    const { rows } = await tg.admin('/admin/usage?customer=shared');
    expect(rows.filter((r: any) => r.decision === 'allowed')).toHaveLength(proxiedOk + monitoredOk);
    expect(rows.filter((r: any) => r.decision === 'blocked' && r.endpoint === '/v1/usage/authorize').length).toBe(10 - monitoredOk);
  });

  it('rejects malformed bodies, naming the field', async () => {
    const noKey = await post('/v1/usage/events', event({}));
    expect(noKey.status).toBe(400);
    expect(noKey.body.error.message).toMatch(/idempotency_key: required/);
    const badCount = await post('/v1/usage/events', event({ prompt_tokens: -1, idempotency_key: 'x' }));
    expect(badCount.body.error.message).toMatch(/^prompt_tokens:/);
    const badId = await post('/v1/usage/release', { reservation_id: 'rsv_nope' });
    expect(badId.status).toBe(400);
    expect(badId.body.error.message).toMatch(/reservation_id/);
    const noAuth = await post('/v1/usage/authorize', { model: 'gpt-4o-mini' }, 'not-a-key-at-all');
    expect(noAuth.status).toBe(401);
  });

  it('lets an app key act for a customer, as on proxied calls', async () => {
    const auth = await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: OUT }, APP_KEY, { 'x-tollgate-customer': 'newco' });
    expect(auth.status).toBe(200);
    const ev = await post('/v1/usage/events', event({ reservation_id: auth.body.reservation_id, idempotency_key: 'newco-1' }), APP_KEY, { 'x-tollgate-customer': 'newco' });
    expect(ev.body.reservation).toBe('settled');
    const { rows } = await tg.admin('/admin/usage?customer=newco');
    expect(rows).toHaveLength(1);
  });
});
