import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers } from '../helpers/fixtures.js';

// Sessions in monitoring mode: /v1/usage/authorize and /v1/usage/events take
// a `session` field (or x-tollgate-session) and meet the same session
// budgets as proxied calls; their rows carry the session.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

function post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: any }> {
  const data = JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(`${tg.url}${path}`, {
      method: 'POST', agent: false,
      headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers },
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

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 5 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], sessionBudgets: [{ limit: 1000, unit: 'tokens' }] }],
  }, { clockStart: TEST_CLOCK, shards: 2 });
});
afterAll(async () => {
  expect(await tg?.stop()).toBe(0);
  await mock?.close();
});

describe('sessions in monitoring mode', () => {
  it('reserves on the session at authorize, settles with the event, and refuses the session once it is spent', async () => {
    const a = await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: 300, estimated_prompt_tokens: 100, session: 'run-1' });
    expect(a.status).toBe(200);
    const e = await post('/v1/usage/events', { model: 'gpt-4o-mini', prompt_tokens: 350, completion_tokens: 250, reservation_id: a.body.reservation_id, idempotency_key: 'ev-1' });
    expect(e.status).toBe(200);
    // 600 of 1000 tokens spent: a call that may use 500 does not fit.
    const refused = await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: 400, estimated_prompt_tokens: 100, session: 'run-1' });
    expect(refused.status).toBe(402);
    expect(refused.body.error.scope).toMatchObject({ customer: 'acme', session: 'run-1', unit: 'tokens', period: 'session', limit: 1000, used: 600, remaining: 400 });
    // The header names the session as well as the body does; another session has its whole budget.
    expect((await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: 301, estimated_prompt_tokens: 100 }, { 'x-tollgate-session': 'run-1' })).status).toBe(402);
    expect((await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: 900, estimated_prompt_tokens: 100, session: 'run-2' })).status).toBe(200);
  });

  it('counts an event reported without a reservation against its session', async () => {
    const e = await post('/v1/usage/events', { model: 'gpt-4o-mini', prompt_tokens: 700, completion_tokens: 250, idempotency_key: 'ev-2', session: 'run-3' });
    expect(e.status).toBe(200);
    const refused = await post('/v1/usage/authorize', { model: 'gpt-4o-mini', max_tokens: 50, estimated_prompt_tokens: 10, session: 'run-3' });
    expect(refused.status).toBe(402);
    expect(refused.body.error.scope).toMatchObject({ session: 'run-3', used: 950 });
  });

  it('records the session on monitored rows and refuses a malformed one', async () => {
    const bad = await post('/v1/usage/authorize', { model: 'gpt-4o-mini', session: 'has space' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/^session: /);
    const { rows } = await tg.admin('/admin/usage?customer=acme&limit=100');
    const sessions = rows.map((r: any) => `${r.endpoint} ${r.session} ${r.decision}`);
    expect(sessions).toContain('/v1/usage/events run-1 allowed');
    expect(sessions).toContain('/v1/usage/authorize run-1 blocked');
    expect(sessions).toContain('/v1/usage/events run-3 allowed');
  });
});
