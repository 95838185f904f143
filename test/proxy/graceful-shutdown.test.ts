import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { launch, startTollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';

let mock: Awaited<ReturnType<typeof startMockUpstream>>;

beforeAll(async () => {
  mock = await startMockUpstream({ completionTokens: 10, latencyMs: 400, chunkDelayMs: 40 });
});
afterAll(async () => {
  await mock?.close();
});

describe('SIGTERM', () => {
  it('finishes calls in flight, records them all, refuses new ones, and exits 0', async () => {
    const tg = await startTollgate({
      providers: providers(mock.url),
      customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] }],
    }, { clockStart: TEST_CLOCK });
    const ids: string[] = [];
    const calls = Array.from({ length: 40 }, async (_, i) => {
      const r = await request(`${tg.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: `call ${i}` }], stream: i % 2 === 0 }),
      });
      const text = await r.body.text();
      ids.push(r.headers['x-tollgate-request-id'] as string);
      return { status: r.statusCode, complete: i % 2 === 0 ? text.includes('[DONE]') : text.endsWith('}') };
    });
    // SIGTERM once all 40 are waiting on the upstream (a fixed sleep raced a loaded machine).
    // The deadline is generous for a loaded 2-core machine; it only catches calls that never arrive.
    for (const end = Date.now() + 20_000; Date.now() < end && mock.stats().requests < 40; ) await sleep(20);
    expect(mock.stats().requests).toBe(40);
    const exit = tg.stop();
    await sleep(50);
    const readyz = await fetch(`${tg.url}/readyz`).then((r) => r.status, () => 'refused');
    expect([503, 'refused']).toContain(readyz);
    const results = await Promise.all(calls);
    expect(results.every((r) => r.status === 200 && r.complete)).toBe(true);
    const code = await exit;
    if (code !== 0) console.log(tg.logs());
    expect(code).toBe(0);

    const again = await launch(tg.configFile, tg.dataDir);
    try {
      const { rows } = await again.admin('/admin/usage?customer=acme&limit=1000');
      const recorded = new Set(rows.map((r: any) => r.request_id));
      expect(ids.filter((id) => !recorded.has(id))).toEqual([]);
    } finally {
      await again.stop();
    }
  });
});
