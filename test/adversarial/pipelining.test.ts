import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';
import { rawRequest } from '../production/raw-http.js';

// What uWebSockets.js does below Tollgate's code, and why it costs nothing:
// a request pipelined behind one still being answered, and a head with more
// lines than the parser takes, close the connection without an answer
// (docs/interface.md, "HTTP: speak HTTP/1.1"; the shipped balancer answers
// both, test/production/haproxy.test.ts). Whatever the client sent, nothing
// may be forwarded without a charged row, and the connection after it
// is served normally.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 4, latencyMs: 20 });
  tg = await startTollgate({
    providers: providers(mock.url),
    customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 10, unit: 'USD', period: 'month' }] }],
  }, { clockStart: TEST_CLOCK, shards: 1 });
});

afterAll(async () => {
  await tg?.stop();
  await mock?.close();
});

const BODY = JSON.stringify({ model: 'gpt-4o-mini', max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] });
const post = (extra = '') => `POST /v1/chat/completions HTTP/1.1\r\nhost: t\r\nauthorization: Bearer ${CUSTOMER_KEY}\r\ncontent-type: application/json\r\n${extra}content-length: ${BODY.length}\r\n\r\n${BODY}`;

async function expectEveryUpstreamCallCharged(): Promise<void> {
  await sleep(300);
  const rows = (await tg.admin('/admin/usage?customer=acme')).rows;
  const charged = rows.filter((r: any) => r.decision === 'allowed' && r.cost_usd > 0).length;
  expect(charged).toBe(mock.stats().byPath['/v1/chat/completions'] ?? 0);
}

describe('requests uWebSockets.js drops', () => {
  it('charges nothing that was not answered when two POSTs are pipelined, and serves the next connection', async () => {
    mock.reset({ keepBehavior: true });
    const r = await rawRequest(tg.port, [post() + post()], { timeoutMs: 5_000 });
    expect([null, 200]).toContain(r.status);
    await expectEveryUpstreamCallCharged();
    const next = await rawRequest(tg.port, [post()], { untilAnswer: true, timeoutMs: 5_000 });
    expect(next.status).toBe(200);
    await expectEveryUpstreamCallCharged();
  });

  it('charges nothing for a head with more lines than the parser takes', async () => {
    mock.reset({ keepBehavior: true });
    const many = Array.from({ length: 80 }, (_, i) => `x-h${i}: a\r\n`).join('');
    const r = await rawRequest(tg.port, [post(many)], { timeoutMs: 2_000 });
    expect([null, 431]).toContain(r.status);
    expect(mock.stats().byPath['/v1/chat/completions'] ?? 0).toBe(0);
  });
});
