import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { listPrice, providers } from '../helpers/fixtures.js';
import { promptEstimate } from '../../src/protocols/estimate/prompt-estimate.js';

// Issue 11, "then prove it": the prompt estimate bounds prompt *tokens*, but
// the reservation prices them at the input price, while Anthropic bills
// tokens written to the prompt cache (`cache_control`) at 1.25× input (5 min)
// or 2× (1 h). A provider that bills the bound in full, all as cache
// writes, makes each call cost 25% more prompt than it reserved: a budget
// sized for exactly four calls admits four in parallel and ends at five
// calls' worth.
//
// Failed before the reservation priced a cache_control prompt at the
// cache-write rate (src/protocols/estimate/cache-writes.ts): the budget
// ended at $0.0405 against a $0.0325 limit.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const KEY = 'tg-adv-cachew-001';
const OUT = 10;
const body = {
  model: 'claude-haiku-4-5',
  max_tokens: OUT,
  system: [{ type: 'text', text: 'The quick brown fox jumps over the lazy dog. '.repeat(800), cache_control: { type: 'ephemeral' } }],
  messages: [{ role: 'user', content: 'Summarise.' }],
};
const E = promptEstimate(body.model, body).tokens;
const price = listPrice(body.model) as { input: number; output: number; cache_write?: number };
const RESERVED_USD = (E * price.input + OUT * price.output) / 1e12;
const LIMIT = RESERVED_USD * 4.01;

beforeAll(async () => {
  // Bills the estimate in full, every token a cache write.
  mock = await startMockUpstream({ promptTokens: E, cacheWriteTokens: E, completionTokens: OUT, latencyMs: 300 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'cachew', keys: [KEY], budgets: [{ limit: LIMIT, unit: 'USD', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK, shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

describe('prompts written to the cache', () => {
  it('keeps parallel calls within the budget when the provider bills the whole prompt as cache writes', async () => {
    expect(price.cache_write).toBeGreaterThan(price.input);
    const statuses = await Promise.all(Array.from({ length: 12 }, async () => {
      const r = await request(`${tg.url}/v1/messages`, { method: 'POST', headers: { 'x-api-key': KEY, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' }, body: JSON.stringify(body) });
      await r.body.text();
      return r.statusCode;
    }));
    expect(statuses.filter((s) => s >= 500)).toEqual([]);
    const { rows } = await tg.admin('/admin/usage?customer=cachew&limit=1000');
    expect(rows.filter((r: any) => r.decision === 'allowed').length).toBe(mock.stats().requests);
    const spent = rows.reduce((s: number, r: any) => s + r.cost_usd, 0);
    expect(spent).toBeLessThanOrEqual(LIMIT);
  });
});
