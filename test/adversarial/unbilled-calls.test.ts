import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';

// Issue 11 item 4: every call that reached the provider leaves a charged
// row, whatever happens to the client, the answer's usage or our tokenizer.
// Each test checks that the mock received exactly the calls that have a row
// with a cost > 0, and that no hold outlives the calls.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({});
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK, shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

afterEach(() => {
  mock.reset();
});

const headers = { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' };

const rowOf = (id: string) => tg.usageRow('acme', id);

/** Every request the mock received since the last reset is one of `rows`, each charged. */
async function expectEveryUpstreamCallCharged(rows: any[]): Promise<void> {
  await sleep(50);
  expect(mock.stats().requests).toBe(rows.length);
  for (const r of rows) {
    expect(r.cost_usd).toBeGreaterThan(0);
    expect(Number.isFinite(r.cost_usd)).toBe(true);
  }
  const view = await tg.admin('/admin/customers/acme');
  expect(view.budgets[0].reserved).toBe(0);
}

async function chat(body: Record<string, unknown>): Promise<{ status: number; id: string; text: string }> {
  const r = await request(`${tg.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'gpt-4o-mini', ...body }) });
  return { status: r.statusCode, id: String(r.headers['x-tollgate-request-id']), text: await r.body.text() };
}

/**
 * Sends a call and hangs up `afterMs` after the mock provider received it (so
 * the call was forwarded however slowly a loaded machine uploads the body);
 * resolves with the request id (sent with the headers, which may never come).
 */
async function hangUp(body: Record<string, unknown>, afterMs: number, onChunk?: (received: string, abort: () => void) => void): Promise<string> {
  const ac = new AbortController();
  const before = new Set(((await tg.admin('/admin/usage?customer=acme&limit=100000')).rows as any[]).map((x) => x.request_id));
  const seen = mock.stats().requests;
  let timer: NodeJS.Timeout | undefined;
  const poll = setInterval(() => {
    if (mock.stats().requests > seen) {
      clearInterval(poll);
      timer = setTimeout(() => ac.abort(), afterMs);
    }
  }, 5);
  try {
    const r = await request(`${tg.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'gpt-4o-mini', ...body }), signal: ac.signal });
    let received = '';
    for await (const chunk of r.body) {
      received += chunk;
      onChunk?.(received, () => ac.abort());
    }
  } catch {
    /* aborted */
  } finally {
    clearInterval(poll);
    clearTimeout(timer);
  }
  // The request id went out only with the headers: find the new row instead.
  for (let i = 0; i < 80; i++) {
    const rows = (await tg.admin('/admin/usage?customer=acme&limit=100000')).rows as any[];
    const fresh = rows.filter((x) => !before.has(x.request_id));
    if (fresh.length) return fresh[0].request_id;
    await sleep(100);
  }
  throw new Error('the call left no usage row');
}

describe('calls whose client hangs up', () => {
  it('bills the reported usage of a non-streamed call whose client hangs up after it was forwarded (540 KB prompt)', async () => {
    mock.setBehavior({ latencyMs: 700 });
    const prompt = 'lorem ipsum dolor sit amet '.repeat(20_000); // 540,000 chars
    const id = await hangUp({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: prompt }] }, 200);
    const row = await rowOf(id);
    expect(row).toMatchObject({ status: 499, usage_source: 'provider', prompt_tokens: Math.ceil(prompt.length / 4), completion_tokens: 16 });
    expect(row.reason).toContain('client_disconnected');
    await expectEveryUpstreamCallCharged([row]);
  });

  it('bills a streamed call whose client hangs up while waiting for the headers', async () => {
    mock.setBehavior({ latencyMs: 600, completionTokens: 50, chunkDelayMs: 20 });
    const id = await hangUp({ messages: [{ role: 'user', content: 'stream to nobody' }], stream: true }, 150);
    const row = await rowOf(id);
    expect(row.status).toBe(499);
    expect(row.prompt_tokens).toBeGreaterThan(0);
    await expectEveryUpstreamCallCharged([row]);
  });

  // The stream is read on past the hang-up to the provider's usage (hidden
  // reasoning is only there), so the whole answer the provider generated is billed.
  it('bills the provider\'s usage of a stream whose client hung up part-way', async () => {
    mock.setBehavior({ completionTokens: 400, chunkDelayMs: 5 });
    const id = await hangUp({ messages: [{ role: 'user', content: 'a long story' }], stream: true }, 10_000, (received, abort) => {
      if ((received.match(/tok\d+/g) ?? []).length >= 20) abort();
    });
    const row = await rowOf(id);
    expect(row).toMatchObject({ status: 499, reason: 'client_disconnected', usage_source: 'provider', completion_tokens: 400 });
    await expectEveryUpstreamCallCharged([row]);
  });
});

describe('answers without usable usage', () => {
  it('counts a non-streamed answer that reports no usage', async () => {
    mock.setBehavior({ omitUsage: true });
    const r = await chat({ messages: [{ role: 'user', content: 'count me please' }] });
    expect(r.status).toBe(200);
    const row = await rowOf(r.id);
    expect(row.usage_source).toBe('tokenizer');
    expect(row.completion_tokens).toBeGreaterThanOrEqual(16);
    await expectEveryUpstreamCallCharged([row]);
  });

  it('bills a stream that ends without its terminal event', async () => {
    mock.setBehavior({ omitTerminal: true, omitUsage: true, completionTokens: 30 });
    const r = await chat({ messages: [{ role: 'user', content: 'no end' }], stream: true });
    expect(r.status).toBe(200);
    const row = await rowOf(r.id);
    expect(row.reason).toContain('upstream_stream_ended_without_terminal_event');
    expect(row.completion_tokens).toBeGreaterThanOrEqual(30);
    await expectEveryUpstreamCallCharged([row]);
  });

  const invalid: [string, Record<string, unknown>, RegExp][] = [
    ['1e308 completion tokens', { completion_tokens: 1e308 }, /completion_tokens=1e\+308/],
    ['negative prompt tokens', { prompt_tokens: -5 }, /prompt_tokens=-5/],
    ['tokens sent as a string', { completion_tokens: '100' }, /completion_tokens="100"/],
    ['ten times max_tokens', { completion_tokens: 160 }, /beyond max_tokens × n = 16/],
  ];
  for (const [name, override, detail] of invalid) {
    it(`flags provider usage of ${name} and bills its own count`, async () => {
      mock.setBehavior({ usageOverride: override });
      const r = await chat({ messages: [{ role: 'user', content: 'what do I owe' }], max_tokens: 16 });
      expect(r.status).toBe(200);
      const row = await rowOf(r.id);
      expect(row.usage_source).toBe('tokenizer');
      expect(row.reason).toMatch(/invalid_provider_usage: /);
      expect(row.reason).toMatch(detail);
      expect(row.prompt_tokens).toBeGreaterThan(0);
      expect(row.prompt_tokens).toBeLessThan(100);
      expect(row.completion_tokens).toBeGreaterThanOrEqual(16);
      expect(row.completion_tokens).toBeLessThan(100);
      await expectEveryUpstreamCallCharged([row]);
    });
  }

  it('alerts and counts invalid provider usage in /metrics', async () => {
    const metrics = await tg.adminText('/metrics');
    expect(metrics).toMatch(/tollgate_invalid_provider_usage_total\{provider="openai"\} [1-9]/);
  });
});

describe('the tokenizer on hostile text', () => {
  for (const [name, size] of [['a 1M-character', 1_000_000], ['a 100k-character', 100_000]] as const) {
    it(`writes a charged row for ${name} unbroken prompt when the provider reports no usage`, async () => {
      mock.setBehavior({ omitUsage: true });
      const r = await chat({ model: 'gpt-4.1-mini', messages: [{ role: 'user', content: 'x'.repeat(size) }] });
      expect(r.status).toBe(200);
      const row = await rowOf(r.id);
      expect(['tokenizer', 'estimate']).toContain(row.usage_source);
      // At least one token per 8 characters of unbroken text; never more than its bytes.
      expect(row.prompt_tokens).toBeGreaterThanOrEqual(size / 8);
      expect(row.prompt_tokens).toBeLessThanOrEqual(size + 100);
      await expectEveryUpstreamCallCharged([row]);
    });
  }
});
