import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import type { Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';
import { describeWithRedis, startRedis, type RedisProcess } from '../helpers/redis-process.js';
import { budgetState, call, CALL_NANO, OUT, PROMPT, startNodes } from './cluster-fixtures.js';

// Budget held by one node is never lost to the others: a live node gives
// its unused lease back when another node's call needs it, and a node
// killed with -9 loses its lease to the pool within the lease TTL.

let redisServer: RedisProcess;
let redis: Redis;
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let nodes: Tollgate[] = [];
const TTL_MS = 2_000;

const config = (customer: string) => ({
  providers: providers(mock.url),
  redis: redisServer.url,
  // No idle return within the test: only a recall or expiry can move the lease.
  cluster: { leaseTtl: TTL_MS, idleReturn: '60s', flushInterval: '100ms' },
  customers: [{ id: customer, keys: [CUSTOMER_KEY], budgets: [{ limit: (CALL_NANO * 10) / 1e9, unit: 'USD', period: 'month' }] }],
});

describeWithRedis('leases held by another node', () => {
  beforeAll(async () => {
    redisServer = await startRedis();
    redis = new Redis(redisServer.url);
    mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT });
  });
  afterEach(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    nodes = [];
  });
  afterAll(async () => {
    redis?.disconnect();
    await mock?.close();
    await redisServer?.stop();
  });

  it('come back when another node needs them: a node sitting on budget does not starve the others', async () => {
    nodes = await startNodes(2, config('sitter'));
    const [a, b] = nodes as [Tollgate, Tollgate];
    expect((await call(a, 0, CUSTOMER_KEY)).status).toBe(200); // a leases half the budget and uses a tenth
    const before = await budgetState(redis, 'tollgate:budget:sitter|*');
    expect(before.claims - before.spent).toBeGreaterThanOrEqual(BigInt(CALL_NANO * 4)); // a sits on four calls
    const statuses: number[] = [];
    for (let i = 0; i < 9; i++) statuses.push((await call(b, 1, CUSTOMER_KEY)).status);
    expect(statuses).toEqual(Array(9).fill(200));
    expect((await call(a, 0, CUSTOMER_KEY)).status).toBe(402);
    expect((await call(b, 1, CUSTOMER_KEY)).status).toBe(402);
    const view = await a.admin('/admin/cluster');
    expect(view.lease_ops.return).toBeGreaterThan(0);
  });

  it('return to the pool within the lease TTL when their node is killed with -9', async () => {
    nodes = await startNodes(2, config('crashy'));
    const [a, b] = nodes as [Tollgate, Tollgate];
    expect((await call(a, 0, CUSTOMER_KEY)).status).toBe(200);
    await sleep(400); // the spend report is written behind (flushInterval); the lease is what this test is about
    const held = await budgetState(redis, 'tollgate:budget:crashy|*');
    const aId = [...held.nodes.entries()].find(([, n]) => n.g > n.s)![0];
    await a.kill9();
    const killedAt = Date.now();
    nodes = [b];

    // b can spend what a does not hold; then it waits for a's lease to lapse.
    const statuses: number[] = [];
    let servedAfterBlockAt = 0;
    while (Date.now() - killedAt < TTL_MS + 3_000) {
      const s = (await call(b, 1, CUSTOMER_KEY)).status;
      statuses.push(s);
      if (s === 200 && statuses.includes(402)) {
        servedAfterBlockAt = Date.now();
        break;
      }
      if (s === 402) await sleep(50);
    }
    expect(statuses).toContain(402); // a's lease held for a while...
    expect(servedAfterBlockAt).toBeGreaterThan(0); // ...then came back
    expect(servedAfterBlockAt - killedAt).toBeLessThanOrEqual(TTL_MS + 500);

    const after = await budgetState(redis, 'tollgate:budget:crashy|*');
    const dead = after.nodes.get(aId)!;
    expect(dead.g).toBe(dead.s); // lapsed: only what a spent still counts
    expect(dead.s).toBe(BigInt(CALL_NANO));
    // b can now use all of the rest: ten calls in all.
    let more = 0;
    while ((await call(b, 1, CUSTOMER_KEY)).status === 200) more++;
    expect(statuses.filter((s) => s === 200).length + more + 1).toBe(10);
  });
});
