import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'node:http';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, OTHER_KEY, providers } from '../helpers/fixtures.js';

// Attack: one idempotency key sent many times at once, each copy on its own
// connection so SO_REUSEPORT spreads them over both shards. Whatever shard a
// copy lands on, the provider sees one call and the ledger holds one charge;
// every other copy answers 409 (still in flight / already charged) or, for
// monitoring events, the first charge again.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const PROMPT = 40;
const OUT = 20;

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: any }

/** POST on a fresh connection (agent: false), so concurrent copies reach both shards. */
function post(path: string, body: unknown, headers: Record<string, string>): Promise<Reply> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${tg.url}${path}`, {
      method: 'POST',
      agent: false,
      headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: text ? JSON.parse(text) : undefined }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

const rowsOf = async (customer: string) => (await tg.admin(`/admin/usage?customer=${customer}&limit=100000`)).rows as any[];
const usdUsed = async (customer: string) => (await tg.admin(`/admin/customers/${customer}`)).budgets.find((b: any) => b.unit === 'USD').used as number;

beforeAll(async () => {
  // Slow enough that every copy arrives while the first is still with the provider.
  mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 400 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [
      { id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] },
      { id: 'beta', keys: [OTHER_KEY], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] },
    ],
  }, { clockStart: TEST_CLOCK, shards: 2 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

describe('one idempotency key sent many times at once', () => {
  it('reaches the provider once and is charged once when 20 copies of a proxied call land on both shards', async () => {
    for (const key of ['order-burst-1', 'order-burst-2', 'order-burst-3']) {
      mock.reset({ keepBehavior: true });
      const headers = { authorization: `Bearer ${CUSTOMER_KEY}`, 'idempotency-key': key };
      const chat = { model: 'gpt-4o-mini', max_tokens: OUT, messages: [{ role: 'user', content: `pay invoice ${key}` }] };
      const replies = await Promise.all(Array.from({ length: 20 }, () => post('/v1/chat/completions', chat, headers)));

      expect(mock.stats().requests).toBe(1);
      expect(replies.filter((r) => r.status === 200)).toHaveLength(1);
      for (const r of replies.filter((x) => x.status !== 200)) {
        expect(r.status).toBe(409);
        expect(r.body.error.type).toBe('idempotency_key_reused');
      }
      const charged = (await rowsOf('acme')).filter((r) => r.idempotency_key === key && r.cost_usd > 0);
      expect(charged).toHaveLength(1);
      expect(charged[0].request_id).toBe(replies.find((r) => r.status === 200)!.headers['x-tollgate-request-id']);
    }
    // Later copies, on any shard, see the committed row.
    const late = await Promise.all(Array.from({ length: 6 }, () => post('/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }, { authorization: `Bearer ${CUSTOMER_KEY}`, 'idempotency-key': 'order-burst-1' })));
    expect(late.map((r) => r.status)).toEqual(Array(6).fill(409));
    expect(late.every((r) => typeof r.body.error.original_request_id === 'string')).toBe(true);
    expect(mock.stats().requests).toBe(1);
  });

  it('charges a monitoring event once when 16 copies, with and without its reservation, land on both shards', async () => {
    const auth = { authorization: `Bearer ${OTHER_KEY}` };
    for (let trial = 0; trial < 6; trial++) {
      const key = `event-burst-${trial}`;
      const reservation = await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: OUT, estimated_prompt_tokens: PROMPT }, auth);
      expect(reservation.status).toBe(200);
      const ev = (withReservation: boolean) => ({
        model: 'gpt-4o-mini', prompt_tokens: PROMPT, completion_tokens: OUT, idempotency_key: key,
        ...(withReservation ? { reservation_id: reservation.body.reservation_id } : {}),
      });
      const burst = await Promise.all(Array.from({ length: 16 }, (_, i) => post('/v1/usage/events', ev(i % 2 === 0), auth)));
      // A copy told "still in flight" retries once the burst is over and gets the first charge back.
      const retried = await Promise.all(burst.map((r, i) => (r.status === 409 ? post('/v1/usage/events', ev(i % 2 === 0), auth) : undefined)));
      expect(retried.every((r) => !r || (r.status === 200 && r.body.duplicate === true))).toBe(true);
      const replies = [...burst, ...retried.filter((r): r is Reply => !!r)];

      const rows = (await rowsOf('beta')).filter((r) => r.idempotency_key === key);
      expect(rows, `trial ${trial}: one row per key`).toHaveLength(1);
      const [row] = rows;
      for (const r of replies) {
        if (r.status === 409) {
          expect(r.body.error.type).toBe('idempotency_key_reused');
          continue;
        }
        expect(r.status).toBe(200);
        expect(r.body.request_id).toBe(row.request_id);
        expect(r.body.cost_usd).toBe(row.cost_usd);
      }
      expect(replies.filter((r) => r.status === 200 && !r.body.duplicate)).toHaveLength(1);
    }
    // The budget counter equals the ledger: nothing was counted twice.
    const ledgerUsd = (await rowsOf('beta')).reduce((s, r) => s + r.cost_usd, 0);
    expect(await usdUsed('beta')).toBeCloseTo(ledgerUsd, 9);
    // Holds of copies whose key another copy charged went back at once, not at their TTL.
    expect((await tg.admin('/admin/customers/beta')).budgets.find((b: any) => b.unit === 'USD').reserved).toBe(0);
  });
});

describe('a full idempotency claim table', () => {
  it('refuses a keyed call with 503 and retry-after rather than forward it unclaimed', async () => {
    const small = await startTollgate({
      providers: providers(mock.url),
      maxIdempotencyClaims: 8, // one bucket of eight
      customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] }],
    }, { clockStart: TEST_CLOCK, shards: 2 });
    try {
      mock.reset({ keepBehavior: true });
      // Every copy must arrive while the first eight are still with the provider.
      mock.setBehavior({ latencyMs: 1_500 });
      const send = (key: string) => new Promise<Reply>((resolve, reject) => {
        const data = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: OUT, messages: [{ role: 'user', content: key }] });
        const req = request(`${small.url}/v1/chat/completions`, {
          method: 'POST', agent: false,
          headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'idempotency-key': key, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) },
        }, (res) => {
          let text = '';
          res.on('data', (c) => (text += c));
          res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: JSON.parse(text) }));
        });
        req.on('error', reject);
        req.end(data);
      });
      const replies = await Promise.all(Array.from({ length: 12 }, (_, i) => send(`distinct-${i}`)));
      const full = replies.filter((r) => r.status === 503);
      expect(replies.filter((r) => r.status === 200)).toHaveLength(8);
      expect(full).toHaveLength(4);
      for (const r of full) {
        expect(r.body.error.type).toBe('overloaded_error');
        expect(r.headers['retry-after']).toBe('1');
      }
      expect(mock.stats().requests).toBe(8);
      // The claims were released: the refused keys go through now.
      mock.setBehavior({ latencyMs: 400 });
      const again = await Promise.all(full.map((_, i) => send(`distinct-late-${i}`)));
      expect(again.map((r) => r.status)).toEqual([200, 200, 200, 200]);
    } finally {
      await small.stop();
    }
  });
});
