import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';

// Issue 11, "then prove it": a reasoning model thinks before it writes, and
// the provider bills those hidden reasoning tokens as completion tokens. In a
// stream, all of them were generated before the first visible word. A client
// that hangs up after the first word stops the relay before the usage chunk
// arrives, and the call is billed only what it counted of the visible text
// (bounded by the bytes received): the thousands of reasoning tokens the
// provider charged are not in the ledger. The mock stands in for a
// reasoning model by reporting REASONING extra completion tokens.
//
// The relay reads an abandoned stream on to its usage (within the call's
// total timeout and its output hold) and bills that; a stream whose usage
// never arrives is billed at least its output hold.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

const OUT = 100;
const REASONING = 5000;

beforeAll(async () => {
  mock = await startMockUpstream({
    completionTokens: OUT,
    chunkDelayMs: 30,
    usageOverride: { completion_tokens: OUT + REASONING, completion_tokens_details: { reasoning_tokens: REASONING, audio_tokens: 0, accepted_prediction_tokens: 0, rejected_prediction_tokens: 0 } },
  });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK, shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

/** Streams a reasoning call, hangs up after its first word; resolves with its usage row. */
async function abandonAfterFirstWord(): Promise<any> {
  const ac = new AbortController();
  let id = '';
  try {
    const r = await request(`${tg.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'gpt-4o-mini', stream: true, max_completion_tokens: OUT + REASONING, messages: [{ role: 'user', content: 'Think hard' }] }),
      signal: ac.signal,
    });
    id = String(r.headers['x-tollgate-request-id']);
    for await (const chunk of r.body) if (String(chunk).includes('tok0')) ac.abort();
  } catch {
    /* hung up */
  }
  let row: any;
  for (let i = 0; i < 80 && !row; i++) {
    row = ((await tg.admin('/admin/usage?customer=acme&limit=10')).rows as any[]).find((x) => x.request_id === id);
    if (!row) await sleep(100);
  }
  return row;
}

describe('a reasoning stream abandoned after its first word', () => {
  it('is billed at least the reasoning the provider charged', async () => {
    mock.setBehavior({ fail: null });
    const row = await abandonAfterFirstWord();
    expect(row).toMatchObject({ status: 499, usage_source: 'provider', completion_tokens: OUT + REASONING });
    expect(mock.stats().requests).toBeGreaterThan(0);
    expect((await tg.admin('/admin/customers/acme')).budgets[0].reserved).toBe(0);
  });

  it('is billed at least its output hold when its stream ends before the usage', async () => {
    mock.setBehavior({ fail: 'cut-stream' });
    const row = await abandonAfterFirstWord();
    expect(row.status).toBe(499);
    expect(row).toMatchObject({ reason: 'client_disconnected', usage_source: 'estimate' });
    expect(row.completion_tokens).toBeGreaterThanOrEqual(OUT + REASONING);
    expect((await tg.admin('/admin/customers/acme')).budgets[0].reserved).toBe(0);
  });
});
