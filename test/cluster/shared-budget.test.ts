import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import type { Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers } from '../helpers/fixtures.js';
import { describeWithRedis, startRedis, type RedisProcess } from '../helpers/redis-process.js';
import { budgetState, call, CALL_NANO, ledgerTotals, OUT, PROMPT, startNodes, waitFor } from './cluster-fixtures.js';

// Three nodes, one Redis, one customer with a budget worth ten calls, and
// three hundred calls at once spread across the nodes: the cap holds across
// all of them, and every unused lease goes back to Redis afterwards.

let redisServer: RedisProcess;
let redis: Redis;
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let nodes: Tollgate[] = [];
const CAP_NANO = CALL_NANO * 10;
const ROOMY_KEY = 'tg-roomy-key-1';
/** Calls the burst of the first test refused (290 on an idle machine). */
let burstRefusals = 290;

describeWithRedis('three nodes sharing one budget through Redis', () => {
  beforeAll(async () => {
    redisServer = await startRedis();
    redis = new Redis(redisServer.url);
    mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 100 });
    nodes = await startNodes(3, {
      providers: providers(mock.url),
      redis: redisServer.url,
      cluster: { leaseTtl: '5s', idleReturn: '1s', flushInterval: '100ms' },
      customers: [
        { id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: CAP_NANO / 1e9, unit: 'USD', period: 'month' }] },
        // Room for a thousand calls: one node's lease covers a run of calls without asking Redis each time.
        { id: 'roomy', keys: [ROOMY_KEY], budgets: [{ limit: (CALL_NANO * 1000) / 1e9, unit: 'USD', period: 'month' }] },
      ],
    });
  });

  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    redis?.disconnect();
    await mock?.close();
    await redisServer?.stop();
  });

  it('never admits past the cap across 300 parallel calls on three nodes, and the rest of the budget is usable once leases settle', async () => {
    const results = await Promise.all(Array.from({ length: 300 }, (_, i) => call(nodes[i % 3]!, i % 3, CUSTOMER_KEY)));
    const ok = results.filter((r) => r.status === 200);
    const refused = results.filter((r) => r.status === 402);
    expect(ok.length + refused.length).toBe(300);
    expect(refused.every((r) => r.type === 'budget_exceeded')).toBe(true);
    expect(mock.stats().requests).toBe(ok.length); // refusals never reached the upstream
    // The promise during the burst is the cap, not the cap exactly: a node refuses when Redis
    // has nothing left to grant, and some of the budget can sit in another node's lease whose
    // own calls were already decided (seen on a loaded machine: 8 of 10). That lease goes back
    // on idle return; the calls below show that nothing was lost.
    expect(ok.length).toBeGreaterThanOrEqual(1);
    expect(ok.length).toBeLessThanOrEqual(10);
    burstRefusals = refused.length;

    await waitFor(async () => {
      const b = await budgetState(redis, 'tollgate:budget:acme|*');
      return b.claims === b.spent && [...b.nodes.values()].every((n) => n.g <= n.s);
    }, 15_000); // idle return is 1 s; the deadline only catches a lease that never comes back
    // One node, one call at a time: each fetches what it needs, so all that is left is admitted.
    const late = [];
    for (let i = ok.length; i < 10; i++) late.push(await call(nodes[0]!, 0, CUSTOMER_KEY));
    console.info(`shared budget: ${ok.length} of 10 calls admitted in the burst, ${late.length} more once leases settled`);
    expect(late.map((r) => r.status)).toEqual(late.map(() => 200));
    expect(mock.stats().requests).toBe(10);

    const ledgers = await Promise.all(nodes.map((n) => ledgerTotals(n, 'acme')));
    const spent = ledgers.reduce((s, l) => s + l.nano, 0);
    expect(ledgers.reduce((s, l) => s + l.calls, 0)).toBe(10);
    expect(spent).toBeLessThanOrEqual(CAP_NANO);
    expect(CAP_NANO - spent).toBeLessThan(CALL_NANO); // within one call's cost of the cap
  });

  it('gives every unused lease back to Redis once the budget settles down, and Redis holds the sum of the ledgers', async () => {
    const ledgers = await Promise.all(nodes.map((n) => ledgerTotals(n, 'acme')));
    const waited = await waitFor(async () => {
      const b = await budgetState(redis, 'tollgate:budget:acme|*');
      return b.claims === b.spent && [...b.nodes.values()].every((n) => n.g <= n.s);
    }, 5_000);
    const b = await budgetState(redis, 'tollgate:budget:acme|*');
    expect(b.cap).toBe(BigInt(CAP_NANO));
    expect(b.nodes.size).toBe(3);
    expect(Number(b.spent)).toBe(ledgers.reduce((s, l) => s + l.nano, 0));
    expect(waited).toBeLessThan(4_000);
  });

  it('writes each node\'s usage counters behind to Redis: calls and refusals of the whole cluster', async () => {
    const total = async (field: string) => {
      const [key] = await redis.keys('tollgate:usage:c:acme|month:*');
      const h = key ? await redis.hgetall(key) : {};
      return Object.entries(h).filter(([f]) => f.endsWith(`:${field}`)).reduce((s, [, v]) => s + Number(v), 0);
    };
    // Written behind every 100 ms; the deadline is generous for a loaded machine.
    await waitFor(async () => (await total('calls')) === 10 && (await total('blocked')) === burstRefusals, 10_000);
    expect(await total('billed_nano')).toBe(CAP_NANO);
  });

  it('reports each node in GET /admin/cluster: Redis up, shortfalls near the cap, no backlog', async () => {
    const views = await Promise.all(nodes.map((n) => n.admin('/admin/cluster')));
    for (const v of views) {
      expect(v).toMatchObject({ enabled: true, redis_up: true, redis_down_policy: 'closed', reconcile_backlog: 0 });
      expect(v.decisions).toBeGreaterThan(0);
      expect(v.lease_hit_rate).toBeCloseTo(1 - v.shortfalls / v.decisions, 9);
      expect(v.redis_round_trips).toBeGreaterThan(0);
    }
    expect(new Set(views.map((v) => v.node_id)).size).toBe(3);
    expect(views.reduce((s, v) => s + v.shortfalls, 0)).toBeGreaterThan(0);
    // The customer view shows the spend of the whole cluster, not one node's (heard within a second or so).
    await waitFor(async () => (await nodes[0]!.admin('/admin/customers/acme')).budgets[0].used * 1e9 > CAP_NANO - CALL_NANO, 3_000);
  });

  it('serves a run of calls within a roomy budget from the lease in memory, asking Redis only to grow it', async () => {
    const node = nodes[0]!;
    const before = await node.admin('/admin/cluster');
    const CALLS = 40;
    for (let i = 0; i < CALLS; i++) expect((await call(node, 0, ROOMY_KEY)).status).toBe(200);
    const after = await node.admin('/admin/cluster');
    const decisions = after.decisions - before.decisions;
    const shortfalls = after.shortfalls - before.shortfalls;
    expect(decisions).toBe(CALLS);
    // A lease is sized for a run of calls: at most the first call of the run waits on Redis
    // (none when the lease was fetched ahead); a node asking on every call would be 0 here.
    expect(shortfalls).toBeLessThanOrEqual(1);
    expect(1 - shortfalls / decisions).toBeGreaterThanOrEqual(0.975);
    expect(after.lease_ops.shortfall - before.lease_ops.shortfall).toBeLessThanOrEqual(1);
  });

  it('refuses the next call on every node once the cluster spent the budget', async () => {
    const after = await Promise.all(nodes.map((n, i) => call(n, i, CUSTOMER_KEY)));
    expect(after.map((r) => r.status)).toEqual([402, 402, 402]);
  });

  it('hands everything back on SIGTERM: the nodes exit 0 and Redis holds no unused lease', async () => {
    const codes = await Promise.all(nodes.map((n) => n.stop()));
    expect(codes).toEqual([0, 0, 0]);
    const b = await budgetState(redis, 'tollgate:budget:acme|*');
    expect(b.claims).toBe(b.spent);
    expect([...b.nodes.values()].every((n) => n.g <= n.s)).toBe(true);
    nodes = [];
  });
});
