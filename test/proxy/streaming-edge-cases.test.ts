import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 400, chunkDelayMs: 10 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

async function rows() {
  return (await tg.admin('/admin/usage?customer=acme&limit=100000')).rows as any[];
}

describe('streams that do not end normally', () => {
  it('a client that disconnects mid-stream is charged the usage the provider reports, read on to the end of the stream', async () => {
    const ac = new AbortController();
    const r = await request(`${tg.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'a long story please' }], stream: true }),
      signal: ac.signal,
    });
    const id = r.headers['x-tollgate-request-id'] as string;
    let received = '';
    try {
      for await (const chunk of r.body) {
        received += chunk;
        if ((received.match(/tok\d+/g) ?? []).length >= 20) ac.abort();
      }
    } catch {
      /* aborted */
    }
    // The upstream is read on (its 400 tokens take 4 s) to its usage: a reasoning model's hidden tokens are only there.
    let row: any;
    for (let i = 0; i < 100 && !row; i++) {
      row = (await rows()).find((x) => x.request_id === id);
      if (!row) await sleep(100);
    }
    expect(row).toMatchObject({ status: 499, reason: 'client_disconnected', usage_source: 'provider', completion_tokens: 400 });
    expect(row.cost_usd).toBeGreaterThan(0);
    const view = await tg.admin('/admin/customers/acme');
    expect(view.budgets[0].reserved).toBe(0);
  });

  it('an upstream that cuts the stream: the client stream ends, and what was sent is billed', async () => {
    mock.setBehavior({ fail: 'cut-stream', failCount: 1 });
    const r = await request(`${tg.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'short' }], stream: true, max_tokens: 40 }),
    });
    const text = await r.body.text();
    expect(r.statusCode).toBe(200);
    expect(text).toContain('tok0');
    expect(text).not.toContain('[DONE]');
    const id = r.headers['x-tollgate-request-id'];
    const row = (await rows()).find((x) => x.request_id === id);
    expect(row.reason).toMatch(/^upstream_stream/);
    expect(row.completion_tokens).toBeGreaterThan(0);
    expect(row.cost_usd).toBeGreaterThan(0);
  });

  it('an upstream that never reports usage is counted with the tokenizer', async () => {
    mock.setBehavior({ omitUsage: true, completionTokens: 10 });
    try {
      const r = await request(`${tg.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'count me' }] }),
      });
      await r.body.text();
      const row = (await rows()).find((x) => x.request_id === r.headers['x-tollgate-request-id']);
      expect(row.usage_source).toBe('tokenizer');
      // "tok0 tok1 ... tok9" in o200k_base
      expect(row.completion_tokens).toBeGreaterThanOrEqual(10);
      expect(row.prompt_tokens).toBeGreaterThan(0);
      expect(row.cost_usd).toBeGreaterThan(0);
    } finally {
      mock.setBehavior({ omitUsage: false, completionTokens: 400 });
    }
  });

  it('returns an upstream 500 unchanged and charges nothing when no other target exists', async () => {
    mock.setBehavior({ fail: '500', failCount: 1 });
    const r = await request(`${tg.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }] }),
    });
    expect(r.statusCode).toBe(500);
    await r.body.text();
    const row = (await rows()).find((x) => x.request_id === r.headers['x-tollgate-request-id']);
    expect(row).toMatchObject({ status: 500, cost_usd: 0 });
  });
});
