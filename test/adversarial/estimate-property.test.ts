import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { tokenizerPromptTokens } from '../../bench/mock-prompt-tokens.mjs';
import { startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { bodies } from '../protocols/estimate-arbitraries.js';

// The estimate's promise, end to end: random bodies of every endpoint sent
// in parallel through the real proxy to a mock that counts prompts like a
// provider (tiktoken, overheads, media rules) on a token budget smaller
// than the batch needs. Whatever is admitted, the ledger never passes the
// limit (the prompt estimate is an upper bound and output is reserved per
// choice, so the stated bound is zero).

const RUNS = 25;
const BATCH = 8;
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const key = (i: number) => `tg-prop-key-${String(i).padStart(4, '0')}`;
// Budgets from 300 to ~1M tokens, so that runs range from all refused to all admitted.
const limit = (i: number) => Math.round(300 * 1.4 ** i);

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: 'tokenizer', completionTokens: 8, latencyMs: 100 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: Array.from({ length: RUNS }, (_, i) => ({ id: `prop${i}`, keys: [key(i)], budgets: [{ limit: limit(i), unit: 'tokens', period: 'month' }] })),
  });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const anyBody = fc.oneof(...Object.entries(bodies).map(([, { path, body }]) => body.map((b) => ({ path, body: b as Record<string, any> }))));

describe('prompt estimate through the proxy', () => {
  it('keeps parallel random calls of every endpoint within a token budget', async () => {
    let run = 0;
    let admitted = 0;
    await fc.assert(fc.asyncProperty(fc.array(anyBody, { minLength: BATCH, maxLength: BATCH }), async (batch) => {
      const i = run++;
      const statuses = await Promise.all(batch.map(async ({ path, body }) => {
        const r = await request(`${tg.url}${path}`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key(i)}`, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
          body: JSON.stringify(body),
        });
        await r.body.text();
        return r.statusCode;
      }));
      expect(statuses.filter((s) => s >= 500 || (s >= 400 && s !== 402))).toEqual([]);
      const { rows } = await tg.admin(`/admin/usage?customer=prop${i}&limit=1000`);
      const allowed = rows.filter((r: any) => r.decision === 'allowed');
      expect(allowed).toHaveLength(statuses.filter((s) => s === 200).length);
      admitted += allowed.length;
      const spent = allowed.reduce((s: number, r: any) => s + r.prompt_tokens + r.completion_tokens, 0);
      expect(spent).toBeLessThanOrEqual(limit(i));
    }), { numRuns: RUNS, endOnFailure: true }); // no shrinking: each run spends its own budget
    // The property means something only if calls were admitted and refused.
    expect(admitted).toBeGreaterThan(BATCH);
    expect(admitted).toBeLessThan(RUNS * BATCH);
  });
});
