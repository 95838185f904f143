import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { APP_KEY, CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';

// Sessions under attack: parallel calls of one session across both shards
// cannot pass its cap; made-up session ids cannot grow memory past
// limits.sessions (they get a 503 naming it, and live sessions keep being
// served); a session's budget starts over only after it was idle for the TTL.
// Every call the mock received has a charged row; no 5xx without a row.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 5 });
});
afterAll(async () => {
  await mock?.close();
});

const BODY = JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], max_tokens: 5 });

function call(tg: Tollgate, headers: Record<string, string>, key = CUSTOMER_KEY): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const req = request(`${tg.url}/v1/chat/completions`, {
      method: 'POST', agent: false,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(BODY), ...headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(BODY);
  });
}

const config = (mockUrl: string, over: Record<string, unknown> = {}) => ({
  providers: providers(mockUrl),
  appKeys: [APP_KEY],
  defaultPlan: 'metered',
  plans: [{ name: 'metered', sessionBudgets: [{ limit: 2, unit: 'requests' }] }],
  customers: [{ id: 'acme', keys: [CUSTOMER_KEY], sessionBudgets: [{ limit: 3, unit: 'requests' }] }],
  ...over,
});

async function expectEveryCallCharged(tg: Tollgate, replies: { status: number }[]) {
  const { rows } = await tg.admin('/admin/usage?limit=100000');
  const charged = rows.filter((r: any) => r.decision === 'allowed' && r.status === 200);
  expect(charged).toHaveLength(mock.stats().requests);
  expect(replies.filter((r) => r.status >= 500 && r.status !== 503)).toHaveLength(0);
  return rows;
}

describe('sessions under attack', () => {
  it('never lets parallel calls of one session pass its cap across both shards', async () => {
    mock.reset({ keepBehavior: true });
    const tg = await startTollgate(config(mock.url), { clockStart: TEST_CLOCK, shards: 2 });
    try {
      const replies = await Promise.all(Array.from({ length: 16 }, () => call(tg, { 'x-tollgate-session': 'burst' })));
      expect(replies.filter((r) => r.status === 200)).toHaveLength(3);
      expect(replies.filter((r) => r.status === 402)).toHaveLength(13);
      expect(mock.stats().requests).toBe(3);
      const rows = await expectEveryCallCharged(tg, replies);
      expect(rows.every((r: any) => r.session === 'burst')).toBe(true);
    } finally {
      expect(await tg.stop()).toBe(0);
    }
  });

  it('caps live sessions at limits.sessions with a 503 naming it, and keeps serving the live ones', async () => {
    mock.reset({ keepBehavior: true });
    const tg = await startTollgate(config(mock.url, { limits: { sessions: 16 } }), { clockStart: TEST_CLOCK, shards: 2 });
    try {
      const made: { status: number; body: any }[] = [];
      for (let i = 0; i < 40; i++) made.push(await call(tg, { 'x-tollgate-session': `made-up-${i}` }));
      expect(made.filter((r) => r.status === 200)).toHaveLength(16);
      const full = made.filter((r) => r.status === 503);
      expect(full).toHaveLength(24);
      expect(full[0]!.body.error.type).toBe('session_limit_exceeded');
      expect(full[0]!.body.error.message).toMatch(/limits\.sessions = 16/);
      // A live session still gets its remaining budget; calls without a session are not affected.
      const live = made.findIndex((r) => r.status === 200);
      expect((await call(tg, { 'x-tollgate-session': `made-up-${live}` })).status).toBe(200);
      expect((await call(tg, {})).status).toBe(200);
      expect(mock.stats().requests).toBe(18);
      const rows = await expectEveryCallCharged(tg, made);
      expect(rows.filter((r: any) => r.reason === 'session_limit_exceeded')).toHaveLength(24);
    } finally {
      expect(await tg.stop()).toBe(0);
    }
  });

  it('starts a session over only once it has been idle for sessionTtl', async () => {
    mock.reset({ keepBehavior: true });
    const tg = await startTollgate(config(mock.url, { sessionTtl: '2s' }), { clockStart: TEST_CLOCK, shards: 2 });
    try {
      const s = { 'x-tollgate-session': 'long-chat' };
      for (let i = 0; i < 3; i++) expect((await call(tg, s)).status).toBe(200);
      await sleep(1_000);
      // Refused calls keep the session alive: it is still spent a second later.
      expect((await call(tg, s)).status).toBe(402);
      await sleep(1_200);
      expect((await call(tg, s)).status).toBe(402);
      await sleep(2_300);
      expect((await call(tg, s)).status).toBe(200);
      expect(mock.stats().requests).toBe(4);
    } finally {
      expect(await tg.stop()).toBe(0);
    }
  });

  it('does not give a session its budget back when the proxy restarts', async () => {
    mock.reset({ keepBehavior: true });
    const s = { 'x-tollgate-session': 'survivor' };
    const first = await startTollgate(config(mock.url), { clockStart: TEST_CLOCK, shards: 2 });
    let resumeAt: number;
    try {
      for (let i = 0; i < 2; i++) expect((await call(first, s)).status).toBe(200);
      expect((await call(first, { 'x-tollgate-session': 'other' })).status).toBe(200);
      resumeAt = first.now() + 1_000;
    } finally {
      expect(await first.stop()).toBe(0);
    }
    const second = await startTollgate(config(mock.url), { clockStart: resumeAt, shards: 2, dataDir: first.dataDir });
    try {
      expect(second.logs()).toMatch(/session budgets rebuilt from the ledger: 2 sessions, 3 rows/);
      expect((await call(second, s)).status).toBe(200);
      const refused = await call(second, s);
      expect(refused.status).toBe(402);
      expect(refused.body.error.scope).toMatchObject({ session: 'survivor', used: 3, limit: 3 });
      expect(mock.stats().requests).toBe(4);
    } finally {
      expect(await second.stop()).toBe(0);
    }
  });

  it('caps each session of app-key customers by the default plan, per customer', async () => {
    mock.reset({ keepBehavior: true });
    const tg = await startTollgate(config(mock.url), { clockStart: TEST_CLOCK, shards: 2 });
    try {
      const as = (customer: string) => ({ 'x-tollgate-customer': customer, 'x-tollgate-session': 'same-id' });
      const replies = [];
      for (let i = 0; i < 3; i++) replies.push(await call(tg, as('tenant-a'), APP_KEY));
      replies.push(await call(tg, as('tenant-b'), APP_KEY));
      expect(replies.map((r) => r.status)).toEqual([200, 200, 402, 200]);
      expect(replies[2]!.body.error.scope).toMatchObject({ customer: 'tenant-a', session: 'same-id', source: 'plan', limit: 2, period: 'session' });
      await expectEveryCallCharged(tg, replies);
    } finally {
      expect(await tg.stop()).toBe(0);
    }
  });
});
