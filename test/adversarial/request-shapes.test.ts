import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';

// Issue 11, "then prove it": request bodies shaped so the call we reserve and
// price differs from the call the provider runs.
// - Both output caps of chat (`max_tokens`, `max_completion_tokens`) with
//   different values: which one a provider (or an OpenAI-compatible server)
//   obeys is not ours to know, so the larger is reserved and a clamp lowers
//   both.
// - Duplicate top-level keys (`model`, `max_tokens`, `n`, `stream`): the body
//   forwarded is re-serialised from the parsed object, so the provider reads
//   exactly the values we priced, never the other copy.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const KEYS = { strict: 'tg-shape-strict-01', clamp: 'tg-shape-clamp-001', dup: 'tg-shape-dup-0001' };
const TOKENS = 2000;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 16 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [
      { id: 'strict', keys: [KEYS.strict], budgets: [{ limit: TOKENS, unit: 'tokens', period: 'month' }] },
      { id: 'clamp', keys: [KEYS.clamp], clampMaxTokens: true, budgets: [{ limit: TOKENS, unit: 'tokens', period: 'month' }] },
      { id: 'dup', keys: [KEYS.dup], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] },
    ],
  }, { clockStart: TEST_CLOCK, shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

afterEach(() => mock.reset());

async function post(key: string, body: string) {
  const r = await request(`${tg.url}/v1/chat/completions`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body });
  return { status: r.statusCode, id: String(r.headers['x-tollgate-request-id']), text: await r.body.text() };
}

const messages = [{ role: 'user', content: 'Hello world' }];

describe('both output caps of a chat call', () => {
  it('reserves the larger: a call that may write 100000 tokens is refused on a 2000-token budget', async () => {
    const r = await post(KEYS.strict, JSON.stringify({ model: 'gpt-4o-mini', messages, max_completion_tokens: 5, max_tokens: 100_000 }));
    expect(r.status).toBe(402);
    expect(mock.stats().requests).toBe(0);
    const r2 = await post(KEYS.strict, JSON.stringify({ model: 'gpt-4o-mini', messages, max_completion_tokens: 100_000, max_tokens: 5 }));
    expect(r2.status).toBe(402);
    expect(mock.stats().requests).toBe(0);
  });

  it('lowers both caps it forwards when the budget clamps', async () => {
    const r = await post(KEYS.clamp, JSON.stringify({ model: 'gpt-4o-mini', messages, max_completion_tokens: 5_000, max_tokens: 100_000 }));
    expect(r.status).toBe(200);
    const sent = mock.stats().lastBody as any;
    expect(sent.max_tokens).toBeLessThanOrEqual(TOKENS);
    expect(sent.max_completion_tokens).toBeLessThanOrEqual(TOKENS);
  });
});

describe('duplicate top-level keys', () => {
  // The upstream body is the client's bytes (spliced, not re-serialised), and parsers disagree on
  // which copy of a key wins: a body that repeats a key is refused before anything is reserved or sent.
  it('refuses a body that repeats the model, cap, n or stream, and forwards nothing', async () => {
    const raw = '{"model":"gpt-4o","messages":[{"role":"user","content":"Hello world"}],"max_tokens":100000,"n":50,"stream":true,'
      + '"model":"gpt-4o-mini","max_tokens":7,"n":1,"stream":false}';
    const r = await post(KEYS.dup, raw);
    expect(r.status).toBe(400);
    expect(JSON.parse(r.text).error.message).toBe('request body has the key "model" twice in one object; send each key once');
    expect(mock.stats().requests).toBe(0);
  });
});
