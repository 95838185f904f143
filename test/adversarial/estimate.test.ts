import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate } from '../helpers/tollgate-process.js';
import { expectedCostUsd, providers } from '../helpers/fixtures.js';

// The reservation is only as good as the prompt estimate: an estimate below
// what the provider bills lets parallel calls spend past the cap. Each
// attack here shapes a request so that a naive estimate sees a small prompt
// while the provider bills a large one, sends it many times at once on a
// small budget, and checks the ledger against the limit.
// The prompt estimate is an upper bound of the billed prompt and output is
// reserved per choice, so the stated bound is zero: spend ≤ limit.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const KEYS = { b64: 'tg-adv-b64-key-01', ids: 'tg-adv-ids-key-01', n: 'tg-adv-n-key-0001', img: 'tg-adv-img-key-01' };
const IMG_LIMIT = 60_000; // tokens
const B64_LIMIT = 1;
const IDS_LIMIT = 0.0001;
const OUT = 16;
// n: 100 choices of OUT tokens each on gpt-4o-mini, a budget worth about two such calls.
const N_CALL_USD = expectedCostUsd('gpt-4o-mini', { prompt: 10, completion: OUT * 100 });
const N_LIMIT = N_CALL_USD * 2.5;

beforeAll(async () => {
  // The mock counts prompts like the provider (tiktoken): chars/4 is not what a provider bills.
  mock = await startMockUpstream({ promptTokens: 'tokenizer', completionTokens: OUT, latencyMs: 300 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [
      { id: 'b64', keys: [KEYS.b64], budgets: [{ limit: B64_LIMIT, unit: 'USD', period: 'month' }] },
      { id: 'ids', keys: [KEYS.ids], budgets: [{ limit: IDS_LIMIT, unit: 'USD', period: 'month' }] },
      { id: 'n', keys: [KEYS.n], budgets: [{ limit: N_LIMIT, unit: 'USD', period: 'month' }] },
      { id: 'img', keys: [KEYS.img], budgets: [{ limit: IMG_LIMIT, unit: 'tokens', period: 'month' }] },
    ],
    // A route that serves a model name with another model, which bills images 33× more tokens.
    routes: [{ model: 'gpt-4o-2024-08-06', targets: [{ provider: 'openai', model: 'gpt-4o-mini' }] }],
  });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

async function post(key: string, path: string, body: unknown) {
  const r = await request(`${tg.url}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  await r.body.text();
  return r.statusCode;
}

/** Ledger spend of a customer, and the checks every attack shares: no 5xx, every upstream call has a charged row. */
async function ledger(customer: string, statuses: number[]) {
  const { rows } = await tg.admin(`/admin/usage?customer=${customer}&limit=100000`);
  expect(statuses.filter((s) => s >= 500)).toEqual([]);
  const allowed = rows.filter((r: any) => r.decision === 'allowed');
  expect(allowed).toHaveLength(statuses.filter((s) => s === 200).length);
  for (const r of allowed) expect(r.cost_usd).toBeGreaterThan(0);
  return rows.reduce((s: number, r: any) => s + r.cost_usd, 0) as number;
}

describe('prompt estimate under attack', () => {
  it('counts a 100 KB prompt that opens like base64 in full: 150 parallel calls stay within the budget', async () => {
    const before = mock.stats().requests;
    const content = 'QUJD'.repeat(50) + 'lorem ipsum dolor sit amet '.repeat(3_700); // ~100 KB
    const statuses = await Promise.all(Array.from({ length: 150 }, () =>
      post(KEYS.b64, '/v1/chat/completions', { model: 'gpt-4o', messages: [{ role: 'user', content }], max_tokens: OUT })));
    const ok = statuses.filter((s) => s === 200).length;
    expect(ok + statuses.filter((s) => s === 402).length).toBe(150);
    expect(ok).toBeGreaterThan(0);
    expect(mock.stats().requests - before).toBe(ok);
    const spent = await ledger('b64', statuses);
    expect(spent).toBeLessThanOrEqual(B64_LIMIT + 1e-9);
  });

  it('counts one token per id of pre-tokenized embedding input: 20 parallel 100k-id calls stay within the budget', async () => {
    const ids = Array.from({ length: 100_000 }, (_, i) => (i * 7919) % 100_000);
    const statuses = await Promise.all(Array.from({ length: 20 }, () =>
      post(KEYS.ids, '/v1/embeddings', { model: 'text-embedding-3-small', input: ids })));
    expect(statuses.every((s) => s === 200 || s === 402)).toBe(true);
    const spent = await ledger('ids', statuses);
    expect(spent).toBeLessThanOrEqual(IDS_LIMIT + 1e-12);
  });

  it('reserves output for every choice: parallel n: 100 calls stay within the budget', async () => {
    const statuses = await Promise.all(Array.from({ length: 10 }, () =>
      post(KEYS.n, '/v1/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Name a colour' }], n: 100, max_tokens: OUT })));
    expect(statuses.every((s) => s === 200 || s === 402)).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    const spent = await ledger('n', statuses);
    expect(spent).toBeLessThanOrEqual(N_LIMIT + 1e-12);
  });

  it('prices images for the model that answers: parallel image calls routed to gpt-4o-mini stay within a token budget', async () => {
    const png = Buffer.alloc(33);
    png.writeUInt32BE(0x89504e47, 0);
    png.writeUInt32BE(0x0d0a1a0a, 4);
    png.writeUInt32BE(13, 8);
    png.write('IHDR', 12, 'latin1');
    png.writeUInt32BE(1024, 16);
    png.writeUInt32BE(1024, 20);
    const image = { type: 'image_url', image_url: { url: `data:image/png;base64,${png.toString('base64')}`, detail: 'high' } };
    const statuses = await Promise.all(Array.from({ length: 10 }, () =>
      post(KEYS.img, '/v1/chat/completions', { model: 'gpt-4o-2024-08-06', messages: [{ role: 'user', content: [{ type: 'text', text: 'What is this?' }, image] }], max_tokens: OUT })));
    expect(statuses.every((s) => s === 200 || s === 402)).toBe(true);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThan(0);
    await ledger('img', statuses);
    const { rows } = await tg.admin('/admin/usage?customer=img&limit=1000');
    const tokens = rows.reduce((s: number, r: any) => s + r.prompt_tokens + r.completion_tokens, 0);
    expect(tokens).toBeLessThanOrEqual(IMG_LIMIT);
  });

  it('refuses n above 128 with a 400 that names the field', async () => {
    const r = await request(`${tg.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEYS.n}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], n: 1_000_000 }),
    });
    expect(r.statusCode).toBe(400);
    expect((await r.body.json() as any).error.message).toMatch(/"n"/);
  });
});
