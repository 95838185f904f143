import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, expectedCostUsd, listPrice, providers } from '../helpers/fixtures.js';

// Issue 11, "then prove it": the answer names its model, and the settle
// prices "the model that answered" (a dated snapshot of an alias costs what
// the snapshot costs). A hostile or misconfigured upstream (or a gateway
// that echoes a client-chosen name) naming a cheaper model must not make the
// call cheaper than the target it was sent to: the name only ever raises it.

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
      { name: 'dead', type: 'openai', baseUrl: `${dead.url}/v1`, apiKey: 'sk-dead', timeouts: { firstByte: '1s', total: '5s' } },
    ],
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 1000, unit: 'USD', period: 'month' }] }],
    routes: [
      // The expensive target fails after the request reached it; the cheap one answers.
      { model: 'smart', targets: [{ provider: 'dead', model: 'gpt-4o', priority: 0 }, { provider: 'openai', model: 'gpt-4o-mini', priority: 1 }] },
      { model: 'lonely', targets: [{ provider: 'dead', model: 'gpt-4o' }] },
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

describe('an answer that names a cheaper model', () => {
  it('is charged at least its target model price', async () => {
    mock.setBehavior({ answerModel: 'gpt-4o-mini' });
    const r = await chat({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello world' }] });
    expect(r.status).toBe(200);
    expect(mock.stats().byModel).toEqual({ 'gpt-4o': 1 });
    const u = r.json.usage;
    const row = await rowOf(r.id);
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('gpt-4o', { prompt: u.prompt_tokens, completion: u.completion_tokens }), 12);
  });

  it('is charged at least its target model price when streamed', async () => {
    mock.setBehavior({ answerModel: 'gpt-4o-mini' });
    const res = await request(`${tg.url}/v1/chat/completions`, { method: 'POST', headers, body: JSON.stringify({ model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: [{ role: 'user', content: 'Hello world' }] }) });
    const text = await res.body.text();
    const usage = text.split('\n').filter((l) => l.startsWith('data: {')).map((l) => JSON.parse(l.slice(6))).find((j) => j.usage)?.usage;
    const row = await rowOf(String(res.headers['x-tollgate-request-id']));
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('gpt-4o', { prompt: usage.prompt_tokens, completion: usage.completion_tokens }), 12);
  });

  it('is still priced at a dearer model it names', async () => {
    mock.setBehavior({ answerModel: 'gpt-4o' });
    const r = await chat({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello world' }] });
    const u = r.json.usage;
    const row = await rowOf(r.id);
    expect(row.cost_usd).toBeCloseTo(expectedCostUsd('gpt-4o', { prompt: u.prompt_tokens, completion: u.completion_tokens }), 12);
  });
});

