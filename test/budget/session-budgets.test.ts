import { request } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { parseCall } from '../../src/protocols/call.js';
import { startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, OTHER_KEY, expectedCostUsd, providers } from '../helpers/fixtures.js';

// Session budgets against the real process (two shards): a cap on each
// session of a customer for its lifetime, refusals that name the session,
// the session on usage rows and in the CSV.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 5, promptTokens: PROMPT });
});
afterAll(async () => {
  await mock?.close();
});

const BODY = { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Summarise the session budget design in one line, please.' }], max_tokens: 5 };
/**
 * The mock reports the proxy's own prompt estimate (an upper bound, so it
 * holds at least that) as the prompt: what a call holds is what it costs, and
 * a budget worth 3.5 calls fits exactly three.
 */
const PROMPT = parseCall('chat', BODY).promptTokensFor('gpt-4o-mini');
/** What one call costs: that prompt and 5 completion tokens at list price. */
const ONE_CALL = expectedCostUsd('gpt-4o-mini', { prompt: PROMPT, completion: 5 });

/** One call on a connection of its own, so the kernel spreads calls over both shards. */
function call(tg: Tollgate, key: string, headers: Record<string, string>): Promise<{ status: number; body: any }> {
  return new Promise((resolve, reject) => {
    const data = JSON.stringify(BODY);
    const req = request(`${tg.url}/v1/chat/completions`, {
      method: 'POST', agent: false,
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers },
    }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end(data);
  });
}

const config = (mockUrl: string) => ({
  providers: providers(mockUrl),
  plans: [{ name: 'team', sessionBudgets: [{ limit: 100, unit: 'requests' }] }],
  customers: [
    { id: 'acme', plan: 'team', keys: [CUSTOMER_KEY], budgets: [{ limit: 100, unit: 'USD', period: 'month' }], sessionBudgets: [{ limit: 3.5 * ONE_CALL, unit: 'USD' }] },
    { id: 'beta', keys: [OTHER_KEY], sessionBudgets: [{ limit: 1, unit: 'requests' }], refusal: { mode: 'message' } },
  ],
});

describe('session budgets', () => {
  it('serves three calls of a session budget worth 3.5 calls, refuses the fourth naming the session, and leaves another session untouched', async () => {
    mock.reset({ keepBehavior: true });
    const tg = await startTollgate(config(mock.url), { clockStart: TEST_CLOCK });
    try {
      const s1 = { 'x-tollgate-session': 'chat-1' };
      for (let i = 0; i < 3; i++) expect((await call(tg, CUSTOMER_KEY, s1)).status).toBe(200);
      const refused = await call(tg, CUSTOMER_KEY, s1);
      expect(refused.status).toBe(402);
      expect(refused.body.error.type).toBe('budget_exceeded');
      expect(refused.body.error.message).toMatch(/session "chat-1" of customer "acme"/);
      const scope = refused.body.error.scope;
      expect(scope).toMatchObject({ customer: 'acme', agent: null, session: 'chat-1', unit: 'USD', period: 'session', source: 'customer' });
      expect(scope.limit).toBeCloseTo(3.5 * ONE_CALL, 12);
      expect(scope.used).toBeCloseTo(3 * ONE_CALL, 9);
      expect(scope.remaining).toBeCloseTo(0.5 * ONE_CALL, 9);
      // The session ends sessionTtl (24h by default) after this very call.
      // (tg.now() trails the proxy's clock by a few ms.)
      const ends = Date.parse(scope.resets_at) - tg.now();
      expect(Math.abs(ends - 24 * 3_600_000)).toBeLessThan(60_000);

      expect((await call(tg, CUSTOMER_KEY, { 'x-tollgate-session': 'chat-2' })).status).toBe(200);
      // A call outside any session meets no session budget.
      expect((await call(tg, CUSTOMER_KEY, {})).status).toBe(200);
      expect(mock.stats().requests).toBe(5);

      const { rows } = await tg.admin('/admin/usage?customer=acme&limit=100');
      expect(rows.map((r: any) => [r.session, r.decision])).toEqual([
        ['chat-1', 'allowed'], ['chat-1', 'allowed'], ['chat-1', 'allowed'], ['chat-1', 'blocked'], ['chat-2', 'allowed'], [null, 'allowed'],
      ]);
      expect(rows[3].reason).toBe('session_budget_exceeded');
      const csv = (await tg.adminText('/admin/usage?customer=acme&format=csv')).trim().split('\n');
      const col = csv[0]!.split(',').indexOf('session');
      expect(col).toBeGreaterThan(0);
      expect(csv.slice(1).map((l) => l.split(',')[col])).toEqual(['chat-1', 'chat-1', 'chat-1', 'chat-1', 'chat-2', '']);
    } finally {
      expect(await tg.stop()).toBe(0);
    }
  });

  it('settles streamed calls on their session, so the session stops at the same place', async () => {
    mock.reset({ keepBehavior: true });
    const tg = await startTollgate(config(mock.url), { clockStart: TEST_CLOCK });
    try {
      const client = new OpenAI({ apiKey: CUSTOMER_KEY, baseURL: `${tg.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-tollgate-session': 'stream-1' } });
      for (let i = 0; i < 3; i++) {
        const stream = await client.chat.completions.create({ ...BODY, stream: true });
        for await (const _ of stream) { /* drain */ }
      }
      const refused = await client.chat.completions.create({ ...BODY, stream: true }).then(() => null, (err) => err);
      expect(refused?.status).toBe(402);
      expect(refused.error.scope).toMatchObject({ session: 'stream-1', period: 'session' });
      expect(refused.error.scope.used).toBeCloseTo(3 * ONE_CALL, 9);
      expect(mock.stats().requests).toBe(3);
      const { rows } = await tg.admin('/admin/usage?customer=acme&limit=100');
      expect(rows.map((r: any) => r.session)).toEqual(['stream-1', 'stream-1', 'stream-1', 'stream-1']);
    } finally {
      expect(await tg.stop()).toBe(0);
    }
  });

  it('refuses a session over its plan budget in the friendly message mode, through the OpenAI SDK', async () => {
    mock.reset({ keepBehavior: true });
    const tg = await startTollgate(config(mock.url), { clockStart: TEST_CLOCK });
    try {
      const client = new OpenAI({ apiKey: OTHER_KEY, baseURL: `${tg.url}/v1`, maxRetries: 0, defaultHeaders: { 'x-tollgate-session': 'ticket-77' } });
      const first = await client.chat.completions.create(BODY);
      expect(first.usage?.completion_tokens).toBe(5);
      const second = await client.chat.completions.create(BODY);
      expect(second.choices[0]!.message.content).toMatch(/used up: 1 requests of 1 requests in this session/);
      expect(mock.stats().requests).toBe(1);
    } finally {
      expect(await tg.stop()).toBe(0);
    }
  });

  it('refuses a malformed session id with a 400 that says what is wrong', async () => {
    mock.reset({ keepBehavior: true });
    const tg = await startTollgate(config(mock.url), { clockStart: TEST_CLOCK });
    try {
      const long = await call(tg, CUSTOMER_KEY, { 'x-tollgate-session': 'x'.repeat(129) });
      expect(long.status).toBe(400);
      expect(long.body.error.message).toMatch(/x-tollgate-session: at most 128 characters/);
      const spaced = await call(tg, CUSTOMER_KEY, { 'x-tollgate-session': 'two words' });
      expect(spaced.status).toBe(400);
      expect(spaced.body.error.message).toMatch(/x-tollgate-session/);
      expect((await call(tg, CUSTOMER_KEY, { 'x-tollgate-session': '0b6f1c1e-2a8d-4f57-9a0e-1c2d3e4f5a6b' })).status).toBe(200);
      expect(mock.stats().requests).toBe(1);
    } finally {
      expect(await tg.stop()).toBe(0);
    }
  });
});
