import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, TEST_CLOCK, type Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { describeWithRedis, startRedis, type RedisProcess } from '../helpers/redis-process.js';
import { call, OUT, PROMPT, waitFor } from './cluster-fixtures.js';

// What velocity windows and idempotency keys do while Redis is unreachable
// (issue 15.6): under redisDown: closed a call that needs Redis is refused
// with 503 and nothing is forwarded; under open the node decides alone, and
// once Redis is back (empty, as after a crash) what it holds and what it
// admitted beyond its grant meanwhile are counted in the window again.

let redisServer: RedisProcess;
let redis: Redis;
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let closed: Tollgate;
let open: Tollgate;
const KEY = 'tg-rated-key-1';

const config = (redisDown: 'closed' | 'open') => ({
  providers: providers(mock.url),
  redis: redisServer.url,
  cluster: { flushInterval: '100ms', redisTimeout: '300ms', redisDown, keyPrefix: `tg-${redisDown}:` },
  customers: [{ id: 'rated', keys: [KEY], rateLimit: { requestsPerMinute: 40 } }],
});

const windowTotal = async (prefix: string) => {
  const keys = await redis.keys(`${prefix}window:*`);
  let total = 0;
  for (const k of keys) for (const v of Object.values(await redis.hgetall(k))) total += Number(v);
  return total;
};

describeWithRedis('velocity windows and idempotency keys while Redis is unreachable', () => {
  beforeAll(async () => {
    redisServer = await startRedis();
    redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    redis.on('error', () => {});
    mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 5 });
    closed = await startTollgate(config('closed'), { clockStart: TEST_CLOCK, shards: 1 });
    open = await startTollgate(config('open'), { clockStart: TEST_CLOCK, shards: 1 });
  }, 180_000); // three proxies started one after the other on a loaded machine
  afterAll(async () => {
    await Promise.allSettled([closed?.stop(), open?.stop()]);
    redis?.disconnect();
    await mock?.close();
    await redisServer?.stop();
  });

  it('refuses with 503 under closed, serves alone under open, and counts what open admitted once Redis is back', async () => {
    // Both nodes hold a grant for the current bucket before Redis goes (1 + a quarter of the rest: 10 calls).
    expect((await call(closed, 0, KEY)).status).toBe(200);
    expect((await call(open, 1, KEY)).status).toBe(200);
    await redisServer.stop();
    await waitFor(async () => (await closed.admin('/admin/cluster')).redis_up === false && (await open.admin('/admin/cluster')).redis_up === false, 10_000);
    const before = mock.stats().requests;

    const withKey = await call(closed, 0, KEY, { 'idempotency-key': 'during-outage' });
    expect([withKey.status, withKey.type]).toEqual([503, 'idempotency_unavailable']);
    // The closed node's grant for the bucket runs out: then 503, nothing forwarded.
    let refused: { status: number; type?: string } = { status: 0 };
    for (let i = 0; i < 600 && refused.status !== 503; i++) {
      const r = await call(closed, 0, KEY);
      if (r.status !== 200) refused = r;
    }
    expect([refused.status, refused.type]).toEqual([503, 'rate_limit_unavailable']);

    const openCalls = await Promise.all(Array.from({ length: 20 }, () => call(open, 1, KEY)));
    expect(openCalls.every((r) => r.status === 200)).toBe(true);
    expect((await call(open, 1, KEY, { 'idempotency-key': 'during-outage' })).status).toBe(200);
    expect(mock.stats().requests - before).toBeGreaterThanOrEqual(21);

    await redisServer.start(); // empty, as after a crash
    // The open node says what it holds again and reports the calls it admitted beyond its grant.
    await waitFor(async () => (await windowTotal('tg-open:')) >= 22, 15_000);
    await waitFor(async () => (await closed.admin('/admin/cluster')).redis_up === true, 10_000);
    expect((await call(closed, 0, KEY, { 'idempotency-key': 'after-outage' })).status).toBe(200);
  });
});
