import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers } from '../helpers/fixtures.js';

// Issue 12 item 5: the SDKs retry a 409 unless told not to. A reused
// idempotency key answers the same every time, so exactly one request may
// reach the proxy for it (counted at the proxy: tollgate_requests_total).

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream();
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 10, unit: 'USD', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

/** 409 answers the proxy gave on an endpoint, from /metrics. */
async function conflicts(endpoint: string): Promise<number> {
  const text = await tg.adminText('/metrics');
  let n = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('tollgate_requests_total{') && line.includes(`endpoint="${endpoint}"`) && line.includes('status="409"')) n += Number(line.split(' ').pop());
  }
  return n;
}

describe('a reused idempotency key is not retried by the SDKs', () => {
  it('the OpenAI SDK sends the 409 request once and surfaces the conflict', async () => {
    const client = new OpenAI({ apiKey: CUSTOMER_KEY, baseURL: `${tg.url}/v1` });
    const opts = { headers: { 'idempotency-key': 'sdk-openai-1' } };
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'once' }] };
    await client.chat.completions.create(body, opts);
    const before = await conflicts('chat');
    const err = await client.chat.completions.create(body, opts).catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.ConflictError);
    expect(await conflicts('chat')).toBe(before + 1);
    expect(err.headers.get('x-should-retry')).toBe('false');
    expect(mock.stats().byPath['/v1/chat/completions']).toBe(1);
  });

  it('the Anthropic SDK sends the 409 request once and surfaces the conflict', async () => {
    const client = new Anthropic({ apiKey: CUSTOMER_KEY, baseURL: tg.url });
    const opts = { headers: { 'idempotency-key': 'sdk-anthropic-1' } };
    const body = { model: 'claude-haiku-4-5', max_tokens: 8, messages: [{ role: 'user' as const, content: 'once' }] };
    await client.messages.create(body, opts);
    const before = await conflicts('messages');
    const err = await client.messages.create(body, opts).catch((e) => e);
    expect(err).toBeInstanceOf(Anthropic.ConflictError);
    expect(await conflicts('messages')).toBe(before + 1);
    expect(mock.stats().byPath['/v1/messages']).toBe(1);
  });
});
