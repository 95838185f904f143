import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { ADMIN_TOKEN, type Tollgate } from '../helpers/tollgate-process.js';
import { CUSTOMER_KEY, OTHER_KEY, providers } from '../helpers/fixtures.js';
import { describeWithRedis, startRedis, type RedisProcess } from '../helpers/redis-process.js';
import { call, CALL_NANO, ledgerTotals, OUT, PROMPT, startNodes, waitFor } from '../cluster/cluster-fixtures.js';

// Two nodes on one Redis share one wallet: a top-up on either raises it for
// both (Redis keeps what was credited), two copies of a top-up racing on
// both nodes credit once, and 20 parallel calls on a wallet worth 5.5 calls
// spread over both nodes are admitted at most 5 times. A Redis that restarts
// empty gets every top-up back from the nodes' own transactions.

let redisServer: RedisProcess;
let redis: Redis;
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let nodes: Tollgate[] = [];

const credit = (node: Tollgate, body: unknown) =>
  fetch(`${node.url}/admin/customers/acme/credits`, {
    method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
  }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));

describeWithRedis('a prepaid wallet shared by two nodes through Redis', () => {
  beforeAll(async () => {
    redisServer = await startRedis();
    redis = new Redis(redisServer.url);
    redis.on('error', () => {}); // the restart below drops it for a moment
    mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 100 });
    nodes = await startNodes(2, {
      providers: providers(mock.url),
      redis: redisServer.url,
      cluster: { leaseTtl: '5s', idleReturn: '1s', flushInterval: '100ms' },
      customers: [{ id: 'acme', keys: [CUSTOMER_KEY], wallet: { currency: 'USD' } }, { id: 'beta', keys: [OTHER_KEY] }],
    }, 2);
  });

  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    redis?.disconnect();
    await mock?.close();
    await redisServer?.stop();
  });

  it('credits once when one top-up reaches both nodes at once', async () => {
    const body = { amount: (CALL_NANO * 5.5) / 1e9, idempotency_key: 'order-1' };
    const [a, b] = await Promise.all([credit(nodes[0]!, body), credit(nodes[1]!, body)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.transaction_id).toBe(b.body.transaction_id);
    const [key] = await redis.keys('tollgate:budget:acme|*');
    expect(await redis.hget(key!, 'cap')).toBe(String(Math.round(CALL_NANO * 5.5)));
    // The other node sees the credit too.
    await waitFor(async () => Math.round((await nodes[1]!.admin('/admin/customers/acme/wallet')).credited.amount * 1e9) === Math.round(CALL_NANO * 5.5), 5_000);
  });

  it('admits at most 5 of 20 parallel calls across both nodes on a wallet worth 5.5 calls', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call(nodes[i % 2]!, i % 2, CUSTOMER_KEY)));
    const ok = results.filter((r) => r.status === 200).length;
    expect(results.filter((r) => r.status !== 200).every((r) => r.status === 402 && r.type === 'budget_exceeded')).toBe(true);
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(ok).toBeLessThanOrEqual(5);
    expect(mock.stats().requests).toBe(ok);
    const ledgers = await Promise.all(nodes.map((n) => ledgerTotals(n, 'acme')));
    expect(ledgers.reduce((s, l) => s + l.calls, 0)).toBe(ok);
    console.info(`cluster wallet: ${ok} of 20 parallel calls admitted on a wallet worth 5.5 calls`);
    // Once the leases settle, the rest of the wallet is usable, and never more than 5 calls in all.
    const late = [];
    for (let i = 0; i < 3; i++) late.push((await call(nodes[0]!, 0, CUSTOMER_KEY)).status);
    const total = (await Promise.all(nodes.map((n) => ledgerTotals(n, 'acme')))).reduce((s, l) => s + l.calls, 0);
    expect(total).toBeLessThanOrEqual(5);
  });

  it('a top-up on one node lets the other node serve calls again', async () => {
    expect((await credit(nodes[0]!, { amount: (CALL_NANO * 2) / 1e9, idempotency_key: 'order-2' })).status).toBe(200);
    await waitFor(async () => (await call(nodes[1]!, 1, CUSTOMER_KEY)).status === 200, 5_000, 200);
  });

  it('a key\'s own wallet, issued and credited on one node, admits at most 5 of 20 parallel calls across both', async () => {
    const post = (node: Tollgate, path: string, body: unknown) => fetch(`${node.url}${path}`, {
      method: 'POST', headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' }, body: JSON.stringify(body),
    }).then(async (r) => ({ status: r.status, body: (await r.json()) as any }));
    const issued = await post(nodes[0]!, '/admin/customers/beta/keys', { wallet: { currency: 'USD' } });
    expect(issued.status).toBe(201);
    const { key, key_id } = issued.body;
    // Credited through the other node, twice with one idempotency key: once.
    await waitFor(async () => (await fetch(`${nodes[1]!.url}/admin/customers/beta/keys/${key_id}/wallet`, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })).status === 200, 5_000);
    const body = { amount: (CALL_NANO * 5.5) / 1e9, idempotency_key: 'key-order-1' };
    const [a, b] = await Promise.all([post(nodes[1]!, `/admin/customers/beta/keys/${key_id}/credits`, body), post(nodes[0]!, `/admin/customers/beta/keys/${key_id}/credits`, body)]);
    expect([a.status, b.status]).toEqual([200, 200]);
    expect(a.body.transaction_id).toBe(b.body.transaction_id);
    const before = mock.stats().requests;
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => call(nodes[i % 2]!, i % 2, key)));
    const ok = results.filter((r) => r.status === 200).length;
    expect(results.filter((r) => r.status !== 200).every((r) => r.status === 402 && r.type === 'budget_exceeded')).toBe(true);
    expect(ok).toBeGreaterThanOrEqual(1);
    expect(ok).toBeLessThanOrEqual(5);
    expect(mock.stats().requests - before).toBe(ok);
    // Never more than 5 in all, once the leases settle; the calls of beta's configured key are not the key wallet's.
    for (let i = 0; i < 3; i++) await call(nodes[i % 2]!, i % 2, key);
    expect((await call(nodes[0]!, 0, OTHER_KEY)).status).toBe(200);
    const rows = (await Promise.all(nodes.map((n) => ledgerTotals(n, 'beta')))).flatMap((l) => l.rows);
    expect(rows.filter((r: any) => r.key_id === key_id && r.decision === 'allowed').length).toBeLessThanOrEqual(5);
    console.info(`cluster key wallet: ${ok} of 20 parallel calls admitted on a key wallet worth 5.5 calls`);
  });

  it('puts every top-up back into a Redis that restarted empty, once each, from the nodes\' transactions', async () => {
    const credited = Math.round(CALL_NANO * 7.5); // order-1 (5.5 calls, recorded on both nodes) and order-2 (2 calls)
    const [key] = await redis.keys('tollgate:budget:acme|*');
    expect(await redis.hget(key!, 'cap')).toBe(String(credited));
    await redisServer.restart(500);
    await waitFor(async () => (await redis.hget(key!, 'cap').catch(() => null)) === String(credited), 15_000, 200);
    await new Promise((r) => setTimeout(r, 500)); // a second re-send would show up as a larger cap
    expect(await redis.hget(key!, 'cap')).toBe(String(credited));
  });
});
