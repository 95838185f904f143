import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { answered, chat, customer, hammer, openaiProvider } from './helpers.js';

let a: Awaited<ReturnType<typeof startMockUpstream>>;
let b: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;

beforeAll(async () => {
  a = await startMockUpstream({ completionTokens: 4 });
  b = await startMockUpstream({ completionTokens: 4 });
  tg = await startTollgate({
    providers: [openaiProvider('a', a.url), openaiProvider('b', b.url)],
    routes: [{ model: 'w', targets: [{ provider: 'a', model: 'gpt-4o-mini', weight: 3 }, { provider: 'b', model: 'gpt-4o-mini', weight: 1 }] }],
    customers: [customer],
  }, { clockStart: TEST_CLOCK, shards: 2 });
});

afterAll(async () => {
  await tg?.stop();
  await a?.close();
  await b?.close();
});

describe('weighted targets', () => {
  it('3:1 weights split 2000 calls within 3 points of 75/25, counted at the two upstreams', async () => {
    const results = await hammer(2000, 16, () => chat(tg.url, 'w'));
    expect(results.every((r) => answered(r, false))).toBe(true);
    const na = a.stats().requests;
    const nb = b.stats().requests;
    expect(na + nb).toBe(2000);
    const share = (100 * na) / 2000;
    console.info(`weights 3:1 over 2000 calls: a=${na} (${share.toFixed(1)}%), b=${nb}`);
    expect(share).toBeGreaterThanOrEqual(72);
    expect(share).toBeLessThanOrEqual(78);
  });
});
