import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import type { Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, providers } from '../helpers/fixtures.js';
import { describeWithRedis, startRedis, type RedisProcess } from '../helpers/redis-process.js';
import { ledgerTotals, OUT, PROMPT, startNodes, waitFor } from './cluster-fixtures.js';

// One idempotency key, twelve concurrent retries spread over three nodes
// (issue 15.2): one reaches the upstream and is charged; the others get 409
// with x-should-retry: false; a repeat after it finished, on any node, names
// the charged request. Again with a node killed -9 while the call runs.

let redisServer: RedisProcess;
let redis: Redis;
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let nodes: Tollgate[] = [];

interface Answer { status: number; node: number; requestId: string | null; retry: string | null; original?: string; type?: string }

async function send(node: number, key: string): Promise<Answer> {
  try {
    const r = await fetch(`${nodes[node]!.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${CUSTOMER_KEY}`, 'content-type': 'application/json', 'idempotency-key': key },
      body: JSON.stringify({ model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'word '.repeat(20).trim() }], max_tokens: OUT }),
    });
    const body: any = await r.json().catch(() => null);
    return { status: r.status, node, requestId: r.headers.get('x-tollgate-request-id'), retry: r.headers.get('x-should-retry'), original: body?.error?.original_request_id, type: body?.error?.type };
  } catch {
    return { status: 0, node, requestId: null, retry: null };
  }
}

async function charged(key: string, alive: number[]): Promise<number> {
  const ledgers = await Promise.all(alive.map((i) => ledgerTotals(nodes[i]!, 'acme')));
  return ledgers.flatMap((l) => l.rows).filter((r: any) => r.idempotency_key === key && r.decision === 'allowed').length;
}

describeWithRedis('idempotency keys across three nodes', () => {
  beforeAll(async () => {
    redisServer = await startRedis();
    redis = new Redis(redisServer.url);
    mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 400 });
    nodes = await startNodes(3, {
      providers: providers(mock.url),
      redis: redisServer.url,
      cluster: { flushInterval: '100ms' },
      customers: [{ id: 'acme', keys: [CUSTOMER_KEY], budgets: [{ limit: 100, unit: 'USD', period: 'month' }] }],
    });
  }, 180_000); // three proxies started one after the other on a loaded machine
  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    redis?.disconnect();
    await mock?.close();
    await redisServer?.stop();
  });

  it('sends 12 concurrent retries of one key over 3 nodes to the upstream once and charges once', async () => {
    const before = mock.stats().requests;
    const answers = await Promise.all(Array.from({ length: 12 }, (_, i) => send(i % 3, 'order-1')));
    const ok = answers.filter((a) => a.status === 200);
    const refused = answers.filter((a) => a.status === 409);
    expect(ok).toHaveLength(1);
    expect(refused).toHaveLength(11);
    expect(refused.every((a) => a.retry === 'false' && a.type === 'idempotency_key_reused')).toBe(true);
    expect(mock.stats().requests - before).toBe(1);
    expect(await charged('order-1', [0, 1, 2])).toBe(1);
    // A repeat once it finished, on every node: the charged request, never a second call.
    await waitFor(async () => (await redis.keys('tollgate:idem:*')).length === 1 && (await redis.get((await redis.keys('tollgate:idem:*'))[0]!))!.startsWith('done:'), 5_000);
    const repeats = await Promise.all([0, 1, 2].map((n) => send(n, 'order-1')));
    expect(repeats.map((a) => [a.status, a.original])).toEqual(repeats.map(() => [409, ok[0]!.requestId]));
    expect(mock.stats().requests - before).toBe(1);
  });

  it('still makes one upstream call and one charge when a node is killed with -9 while the call runs', async () => {
    const before = mock.stats().requests;
    const first = send(0, 'order-2');
    // The claim is in Redis (node 0 holds it) before the retries go out.
    await waitFor(async () => (await redis.keys('tollgate:idem:*')).length === 2, 5_000, 20);
    const retries = Promise.all(Array.from({ length: 11 }, (_, i) => send((i + 1) % 3, 'order-2')));
    await nodes[2]!.kill9();
    const answers = [await first, ...(await retries)];
    const ok = answers.filter((a) => a.status === 200);
    console.info(`idempotency with node 2 killed: ${answers.map((a) => a.status).join(',')}`);
    expect(ok).toHaveLength(1);
    expect(ok[0]!.node).toBe(0);
    expect(answers.filter((a) => a.status !== 200 && a.status !== 0).every((a) => a.status === 409 && a.retry === 'false')).toBe(true);
    expect(mock.stats().requests - before).toBe(1);
    expect(await charged('order-2', [0, 1])).toBe(1);
    // The node reports the key done after its client has the answer (model-call.ts): a repeat sent at once may still find it in flight.
    await waitFor(async () => (await Promise.all((await redis.keys('tollgate:idem:*')).map((k) => redis.get(k)))).every((v) => v?.startsWith('done:')), 5_000);
    const again = await send(1, 'order-2');
    expect([again.status, again.original]).toEqual([409, ok[0]!.requestId]);
  });
});
