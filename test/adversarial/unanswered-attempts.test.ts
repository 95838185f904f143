import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, expectedCostUsd, listPrice, providers } from '../helpers/fixtures.js';

// Issue 11, "then prove it": an attempt that reached the provider and then
// timed out or was reset may have been generated and charged by the
// provider; moving on to a fallback target (or giving up) must not drop it.
// The rule: the prompt of every attempt that failed after its connection
// was made (timeout, reset, a broken answer) is billed, at that target's
// price, on the call's row; an attempt that never connected is not.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let dead: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const PROMPT = 'word '.repeat(4000); // ~4000 tokens
const OUT = 16;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: OUT });
  dead = await startMockUpstream({ completionTokens: OUT });
  tg = await startTollgate({
    providers: [
      ...providers(mock.url),
      // Nothing listens on port 9 of 127.0.0.1 (discard; not run on test hosts): the connection is refused.
      { name: 'nowhere', type: 'openai', baseUrl: 'http://127.0.0.1:9/v1', apiKey: 'sk-nowhere' },
      { name: 'dead', type: 'openai', baseUrl: `${dead.url}/v1`, apiKey: 'sk-dead', timeouts: { firstByte: '1s', total: '5s' } },
    ],
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }],
    routes: [
      // The expensive target fails after the request reached it; the cheap one answers.
      { model: 'smart', targets: [{ provider: 'dead', model: 'gpt-4o', priority: 0 }, { provider: 'openai', model: 'gpt-4o-mini', priority: 1 }] },
      { model: 'lonely', targets: [{ provider: 'dead', model: 'gpt-4o' }] },
      { model: 'unreachable', targets: [{ provider: 'nowhere', model: 'gpt-4o', priority: 0 }, { provider: 'openai', model: 'gpt-4o-mini', priority: 1 }] },
    ],
  }, { clockStart: TEST_CLOCK, shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
  await dead?.close();
});

afterEach(() => {
  mock.reset();
  dead.reset();
});

const headers = { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' };

async function chat(body: Record<string, unknown>): Promise<{ status: number; id: string; json: any }> {
  const r = await request(`${tg.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify(body) });
  const text = await r.body.text();
  return { status: r.statusCode, id: String(r.headers['x-tollgate-request-id']), json: text ? JSON.parse(text) : undefined };
}

const rowOf = (id: string) => tg.usageRow('acme', id);

describe('an attempt that reached the provider and got no answer', () => {
  /** The least a gpt-4o attempt's prompt costs: it was sent whole, the provider may bill it. */
  const gpt4oPromptUsd = (tokens: number) => (tokens * listPrice('gpt-4o').input) / 1e12;

  for (const fail of ['timeout', 'reset'] as const) {
    it(`bills the prompt of the ${fail} attempt as well as the fallback's answer`, async () => {
      dead.setBehavior({ fail });
      const r = await chat({ model: 'smart', messages: [{ role: 'user', content: PROMPT }] });
      expect(r.status).toBe(200);
      expect(dead.stats().requests).toBe(1);
      expect(mock.stats().requests).toBe(1);
      const u = r.json.usage;
      const row = await rowOf(r.id);
      const answer = expectedCostUsd('gpt-4o-mini', { prompt: u.prompt_tokens, completion: u.completion_tokens });
      // The prompt is ~4000 tokens (tiktoken); the mock's usage counts chars / 4.
      expect(row.cost_usd).toBeGreaterThan(answer + gpt4oPromptUsd(3000));
      expect(row.reason).toMatch(/billed_prompt_unanswered/);
      const view = await tg.admin('/admin/customers/acme');
      expect(view.budgets[0].reserved).toBe(0);
    });
  }

  it('bills the prompt of a lone attempt that timed out after it was sent', async () => {
    dead.setBehavior({ fail: 'timeout' });
    const r = await chat({ model: 'lonely', messages: [{ role: 'user', content: PROMPT }] });
    expect(r.status).toBe(504);
    expect(dead.stats().requests).toBe(1);
    const row = await rowOf(r.id);
    expect(row.cost_usd).toBeGreaterThan(gpt4oPromptUsd(3000));
    expect(row.reason).toMatch(/billed_prompt_unanswered/);
  });

  it('charges only the answer when the first target could not be connected to', async () => {
    const r = await chat({ model: 'unreachable', messages: [{ role: 'user', content: PROMPT }] });
    expect(r.status).toBe(200);
    expect(mock.stats().requests).toBe(1);
    const u = r.json.usage;
    const row = await rowOf(r.id);
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('gpt-4o-mini', { prompt: u.prompt_tokens, completion: u.completion_tokens }), 12);
    expect(row.reason).not.toMatch(/billed_prompt_unanswered/);
  });

  it('bills the prompt of a timed-out attempt when the fallback answers an error', async () => {
    dead.setBehavior({ fail: 'timeout' });
    mock.setBehavior({ fail: '503' });
    const r = await chat({ model: 'smart', messages: [{ role: 'user', content: PROMPT }] });
    expect(r.status).toBe(503);
    expect(dead.stats().requests).toBe(1);
    const row = await rowOf(r.id);
    expect(row.cost_usd).toBeGreaterThan(gpt4oPromptUsd(3000));
    expect(row.model).toBe('gpt-4o-mini');
  });
});
