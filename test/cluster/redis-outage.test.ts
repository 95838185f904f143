import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import type { Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers, sleep } from '../helpers/fixtures.js';
import { describeWithRedis, startRedis, type RedisProcess } from '../helpers/redis-process.js';
import { budgetState, call, CALL_NANO, ledgerTotals, OUT, PROMPT, startNodes, waitFor, type CallResult } from './cluster-fixtures.js';

// Redis goes away under load and comes back empty (no persistence): the
// nodes keep deciding within their leases, lose no usage row, and once
// Redis is back they say everything again, so Redis's spend equals the sum
// of the ledgers exactly — nothing lost, nothing counted twice.

let redisServer: RedisProcess;
let redis: Redis;
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let nodes: Tollgate[] = [];

const budgets = [
  { limit: 1000, unit: 'USD', period: 'month' },
  { limit: 1_000_000, unit: 'requests', period: 'day' },
];

describeWithRedis('Redis outage', () => {
  beforeAll(async () => {
    redisServer = await startRedis();
    redis = new Redis(redisServer.url, { maxRetriesPerRequest: 1, retryStrategy: () => 100 });
    redis.on('error', () => {});
    mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 20 });
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

  it('keeps serving through 5 s without Redis, loses no usage row, and reconciles spend exactly', async () => {
    nodes = await startNodes(3, {
      providers: providers(mock.url),
      redis: redisServer.url,
      cluster: { flushInterval: '100ms', redisTimeout: '300ms' },
      customers: [{ id: 'steady', keys: [CUSTOMER_KEY], budgets }],
    });
    const results: CallResult[] = [];
    let stop = false;
    const worker = async (w: number) => {
      for (let i = w; !stop; i += 6) results.push(await call(nodes[i % 3]!, i % 3, CUSTOMER_KEY));
    };
    const load = Promise.all(Array.from({ length: 6 }, (_, w) => worker(w)));

    await sleep(1_500);
    await redisServer.stop();
    const downAt = Date.now();
    await sleep(1_500);
    const during = await Promise.all(nodes.map((n) => n.admin('/admin/cluster')));
    await sleep(5_000 - (Date.now() - downAt));
    await redisServer.start();
    await sleep(1_500);
    stop = true;
    await load;

    // Nobody crashed; every call was served from the leases held.
    for (const n of nodes) {
      expect(n.proc.exitCode).toBeNull();
      expect((await fetch(`${n.url}/healthz`)).status).toBe(200);
    }
    expect(results.length).toBeGreaterThan(100);
    expect(results.filter((r) => r.status !== 200)).toEqual([]);
    for (const v of during) expect(v).toMatchObject({ redis_up: false, redis_down_policy: 'closed' });
    expect(during.some((v) => v.reconcile_backlog > 0)).toBe(true);

    // No usage row lost: each answered call is in the ledger of the node that answered it.
    const ledgers = await Promise.all(nodes.map((n) => ledgerTotals(n, 'steady')));
    nodes.forEach((_, i) => {
      const ids = new Set(ledgers[i]!.rows.map((r: any) => r.request_id));
      const answered = results.filter((r) => r.node === i);
      expect(answered.every((r) => ids.has(r.requestId))).toBe(true);
      expect(ledgers[i]!.calls).toBe(answered.length);
    });

    // Redis restarted empty; the nodes re-sent their absolute totals.
    const sumNano = ledgers.reduce((s, l) => s + l.nano, 0);
    const sumCalls = ledgers.reduce((s, l) => s + l.calls, 0);
    await waitFor(async () => {
      const usd = await budgetState(redis, 'tollgate:budget:steady||customer|0|USD|*');
      const req = await budgetState(redis, 'tollgate:budget:steady||customer|1|requests|*');
      return Number(usd.spent) === sumNano && Number(req.spent) === sumCalls && usd.nodes.size === 3;
    }, 5_000);
    await waitFor(async () => (await Promise.all(nodes.map((n) => n.admin('/admin/cluster')))).every((v) => v.redis_up && v.reconcile_backlog === 0), 5_000);
    expect(sumCalls).toBe(results.length);
    expect(sumNano).toBe(results.length * CALL_NANO);
  });

  it('refuses with 503 budget_unavailable once the held lease runs out (redisDown: closed), or decides locally (open)', async () => {
    const base = {
      providers: providers(mock.url),
      redis: redisServer.url,
      cluster: { flushInterval: '100ms', redisTimeout: '300ms', idleReturn: '60s' },
      customers: [{ id: 'tiny', keys: [CUSTOMER_KEY], budgets: [{ limit: (CALL_NANO * 10) / 1e9, unit: 'USD', period: 'month' }] }],
    };
    const [closed] = await startNodes(1, base);
    const [open] = await startNodes(1, { ...base, cluster: { ...base.cluster, redisDown: 'open' } });
    nodes = [closed!, open!];
    expect((await call(closed!, 0, CUSTOMER_KEY)).status).toBe(200); // closed leases half the budget
    expect((await call(open!, 1, CUSTOMER_KEY)).status).toBe(200);
    await sleep(400); // both spends reported
    await redisServer.stop();
    try {
      const onClosed: CallResult[] = [];
      for (let i = 0; i < 8; i++) onClosed.push(await call(closed!, 0, CUSTOMER_KEY));
      const firstRefusal = onClosed.findIndex((r) => r.status !== 200);
      expect(firstRefusal).toBeGreaterThan(0); // the lease it held kept serving
      expect(onClosed.slice(firstRefusal).every((r) => r.status === 503 && r.type === 'budget_unavailable')).toBe(true);
      const body = await (await fetch(`${closed!.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'x' }], max_tokens: OUT }),
      })).json();
      expect(body.error.message).toMatch(/shared budget state is unreachable/);

      // Open: allowed on local accounting up to the whole budget as last heard (the cap may be overshot).
      const onOpen: number[] = [];
      for (let i = 0; i < 12; i++) onOpen.push((await call(open!, 1, CUSTOMER_KEY)).status);
      expect(onOpen.filter((s) => s === 200).length).toBeGreaterThan(2);
      expect(onOpen).not.toContain(503);
    } finally {
      await redisServer.start();
    }
    const ledgers = await Promise.all(nodes.map((n) => ledgerTotals(n, 'tiny')));
    const sum = ledgers.reduce((s, l) => s + l.nano, 0);
    await waitFor(async () => Number((await budgetState(redis, 'tollgate:budget:tiny|*')).spent) === sum, 5_000);
    // The blocked 503 calls are in the ledger too.
    expect(ledgers[0]!.rows.filter((r: any) => r.reason === 'budget_unavailable').length).toBeGreaterThan(0);
  });
});
