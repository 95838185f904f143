import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';

// Issue 11, "then prove it": 200 calls at once on a USD budget worth a few
// of them, mixing every endpoint, streamed and whole, n > 1, with and
// without an output cap, across two shards; once refusing past the limit
// and once clamping max_tokens to what is left. The ledger must not pass
// the limit (the prompt estimate is an upper bound and the output cap is
// reserved per choice, so the stated bound is zero for a provider that
// obeys the cap), every request the mock received must have a charged row,
// and no call may end in a 5xx.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const CALLS = 200;
const LIMIT = 0.05;
const KEYS = { refuse: 'tg-mix-refuse-001', clamp: 'tg-mix-clamp-0001' };

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: 'tokenizer', completionTokens: 200, latencyMs: 80, chunkDelayMs: 2 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [
      { id: 'refuse', keys: [KEYS.refuse], budgets: [{ limit: LIMIT, unit: 'USD', period: 'day' }] },
      { id: 'clamp', keys: [KEYS.clamp], clampMaxTokens: true, budgets: [{ limit: LIMIT, unit: 'USD', period: 'day' }] },
    ],
  }, { clockStart: TEST_CLOCK, shards: 2 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const PROSE = 'The quick brown fox jumps over the lazy dog; 12345 émoji 👩‍👩‍👧 e\u0301\u0301 ';

/** Deterministic mix: call i of the batch. */
function callOf(i: number): { path: string; body: Record<string, unknown> } {
  const text = PROSE.repeat(1 + (i % 7) * 20);
  const cap = i % 3 === 0 ? {} : { max_tokens: 50 + (i % 5) * 100 };
  switch (i % 6) {
    case 0:
    case 1:
      return { path: '/v1/chat/completions', body: { model: i % 4 ? 'gpt-4o-mini' : 'gpt-4o', messages: [{ role: 'system', content: 'be brief' }, { role: 'user', content: text, name: 'u' }], stream: i % 2 === 0, n: 1 + (i % 3), ...cap } };
    case 2:
      return { path: '/v1/responses', body: { model: 'gpt-4o-mini', instructions: 'be brief', input: [{ role: 'user', content: [{ type: 'input_text', text }] }], stream: i % 4 === 2, ...(i % 3 ? { max_output_tokens: 100 } : {}) } };
    case 3:
      return { path: '/v1/messages', body: { model: 'claude-haiku-4-5', system: [{ type: 'text', text: 'be brief', cache_control: { type: 'ephemeral' } }], messages: [{ role: 'user', content: [{ type: 'text', text }] }], stream: i % 2 === 1, max_tokens: 300 } };
    case 4:
      return { path: '/v1/embeddings', body: { model: 'text-embedding-3-small', input: Array.from({ length: 50 }, () => text.slice(0, 200)), dimensions: 256 } };
    default:
      return { path: '/v1/chat/completions', body: { model: 'gpt-4o-mini', messages: Array.from({ length: 300 }, (_, k) => ({ role: k % 2 ? 'assistant' : 'user', content: k % 3 ? 'ok' : '' })), max_completion_tokens: 20, max_tokens: 400 } };
  }
}

async function attack(customer: keyof typeof KEYS): Promise<void> {
  mock.reset();
  const statuses = await Promise.all(Array.from({ length: CALLS }, async (_, i) => {
    const { path, body } = callOf(i);
    const r = await request(`${tg.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS[customer]}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
      body: JSON.stringify(body),
    });
    await r.body.text();
    return r.statusCode;
  }));
  expect(statuses.filter((s) => s >= 500)).toEqual([]);
  expect(statuses.filter((s) => s !== 200 && s !== 402)).toEqual([]);
  const { rows } = await tg.admin(`/admin/usage?customer=${customer}&limit=100000`);
  const allowed = rows.filter((r: any) => r.decision === 'allowed');
  expect(allowed.length).toBe(mock.stats().requests);
  expect(allowed.length).toBe(statuses.filter((s) => s === 200).length);
  for (const r of allowed) expect(r.cost_usd).toBeGreaterThan(0);
  expect(allowed.length).toBeGreaterThan(0);
  const spent = rows.reduce((s: number, r: any) => s + r.cost_usd, 0);
  expect(spent).toBeLessThanOrEqual(LIMIT);
  const view = await tg.admin(`/admin/customers/${customer}`);
  expect(view.budgets[0].reserved).toBe(0);
}

describe('200 parallel calls of every endpoint on a small USD budget', () => {
  it('stays within the limit when it refuses past it', async () => {
    await attack('refuse');
  });

  it('stays within the limit when it clamps max_tokens', async () => {
    await attack('clamp');
  });
});
