import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { expectedCostUsd } from '../helpers/fixtures.js';
import { providers } from '../helpers/fixtures.js';
import { storedContext } from '../../src/protocols/estimate/stored-context.js';

// Issue 11, "then prove it": a prompt the request body does not hold.
// `previous_response_id` (and `conversation`, a stored `prompt`) make the
// Responses API put a stored conversation in front of the model: the
// provider bills all of it as input, while the body shows a few words. The
// mock stands in for a stored conversation of STORED tokens by billing
// every call that many prompt tokens. Parallel calls on a small budget must
// stay within it: such a call reserves the model's whole context window
// (an upper bound: the provider cannot bill more input than it reads).

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const KEY = 'tg-adv-prevresp-01';
const QUIET_KEY = 'tg-adv-prevresp-02';
const STORED = 20_000;
const OUT = 16;
const CALL_USD = expectedCostUsd('gpt-4o-mini', { prompt: STORED, completion: OUT });
// Room for one context-window reservation of gpt-4o-mini (128k × $0.15/M ≈ $0.0192 + output) and some.
const LIMIT = 0.03;

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: STORED, completionTokens: OUT, latencyMs: 200 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [
      { id: 'prev', keys: [KEY], budgets: [{ limit: LIMIT, unit: 'USD', period: 'month' }] },
      { id: 'quiet', keys: [QUIET_KEY], budgets: [{ limit: 10, unit: 'USD', period: 'month' }] },
    ],
  }, { clockStart: TEST_CLOCK, shards: 2 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

describe('a prompt stored at the provider', () => {
  it('keeps 30 parallel previous_response_id calls within the budget', async () => {
    const statuses = await Promise.all(Array.from({ length: 30 }, async (_, i) => {
      const r = await request(`${tg.url}/v1/responses`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', previous_response_id: 'resp_stored_conversation', input: `and then? ${i}`, max_output_tokens: OUT }),
      });
      await r.body.text();
      return r.statusCode;
    }));
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    const { rows } = await tg.admin('/admin/usage?customer=prev&limit=1000');
    const allowed = rows.filter((r: any) => r.decision === 'allowed');
    expect(allowed.length).toBe(mock.stats().requests);
    for (const r of allowed) expect(r.cost_usd).toBeCloseTo(CALL_USD, 9);
    const spent = rows.reduce((s: number, r: any) => s + r.cost_usd, 0);
    expect(spent).toBeLessThanOrEqual(LIMIT);
    expect(allowed.length).toBeGreaterThan(0);
  });
});

describe('input the provider adds to the body', () => {
  it('is recognised in every form that reaches the model unseen, and not in a plain call', () => {
    expect(storedContext({ input: 'hi', previous_response_id: 'resp_1' })).toBe('previous_response_id');
    expect(storedContext({ input: 'hi', conversation: { id: 'conv_1' } })).toBe('conversation');
    expect(storedContext({ prompt: { id: 'pmpt_1', version: '2' } })).toBe('prompt');
    expect(storedContext({ messages: [], mcp_servers: [{ type: 'url', url: 'https://x' }] })).toBe('mcp_servers');
    expect(storedContext({ tools: [{ type: 'function', name: 'f' }, { type: 'mcp', server_url: 'https://x' }] })).toBe('tools[].type mcp');
    expect(storedContext({ tools: [{ type: 'web_search_20250305', name: 'web_search' }] })).toBe('tools[].type web_search_20250305');
    expect(storedContext({ tools: [{ type: 'file_search', vector_store_ids: ['vs_1'] }] })).toBe('tools[].type file_search');
    expect(storedContext({ messages: [{ role: 'user', content: 'hi' }], tools: [{ type: 'function', function: { name: 'f' } }], prompt: 'legacy text prompt' })).toBeUndefined();
  });
});

describe('a stored-prompt call whose answer reports no usage', () => {
  it('is billed the context window it reserved, not the few words of its body', async () => {
    mock.setBehavior({ omitUsage: true });
    try {
      const r = await request(`${tg.url}/v1/responses`, {
        method: 'POST',
        headers: { authorization: `Bearer ${QUIET_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', previous_response_id: 'resp_stored_conversation', input: 'and then?', max_output_tokens: OUT }),
      });
      await r.body.text();
      const id = String(r.headers['x-tollgate-request-id']);
      expect(r.statusCode).toBe(200);
      const { rows } = await tg.admin('/admin/usage?customer=quiet&limit=1000');
      const row = rows.find((x: any) => x.request_id === id);
      expect(row.reason ?? '').not.toMatch(/invalid/);
      expect(row.prompt_tokens).toBeGreaterThanOrEqual(STORED);
    } finally {
      mock.setBehavior({ omitUsage: false });
    }
  });
});
