import { createServer, type Server } from 'node:http';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import type { Tollgate } from '../helpers/tollgate-process.js';
import { providers } from '../helpers/fixtures.js';
import { describeWithRedis, startRedis, type RedisProcess } from '../helpers/redis-process.js';
import { call, CALL_NANO, OUT, PROMPT, startNodes, waitFor } from './cluster-fixtures.js';

// A budget's thresholds notify once each for the whole cluster (issue 15.3),
// though all three nodes see them crossed; and still once when the node
// delivering is killed with -9 while its channel is failing: another node
// that saw the same crossing takes the delivery over once its claim lapses.

let redisServer: RedisProcess;
let redis: Redis;
let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let nodes: Tollgate[] = [];
const hook = { server: undefined as unknown as Server, url: '', up: true, events: [] as any[], refused: 0 };

const customer = (id: string) => ({
  id,
  keys: [`tg-${id}-key`],
  budgets: [{
    limit: (CALL_NANO * 6) / 1e9, unit: 'USD', period: 'month',
    thresholds: [{ at: 0.5, action: 'warn', notify: ['ops'] }, { at: 1.0, action: 'block', notify: ['ops'] }],
  }],
});

/** Calls round-robin over the nodes still alive until the budget refuses on each of them. */
async function spend(id: string, alive: number[]): Promise<void> {
  for (let i = 0; i < 40; i++) {
    const n = alive[i % alive.length]!;
    await call(nodes[n]!, n, `tg-${id}-key`);
  }
}

const eventsOf = (id: string) => hook.events.filter((e) => e.customer === id && e.event === 'threshold_crossed');

describeWithRedis('threshold alerts once per cluster', () => {
  beforeAll(async () => {
    hook.server = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        if (!hook.up) {
          hook.refused++;
          res.statusCode = 503;
          return res.end();
        }
        hook.events.push(JSON.parse(body));
        res.end('ok');
      });
    });
    await new Promise<void>((r) => hook.server.listen(0, '127.0.0.1', () => r()));
    hook.url = `http://127.0.0.1:${(hook.server.address() as any).port}/hook`;
    redisServer = await startRedis();
    redis = new Redis(redisServer.url);
    mock = await startMockUpstream({ promptTokens: PROMPT, completionTokens: OUT, latencyMs: 5 });
    nodes = await startNodes(3, {
      providers: providers(mock.url),
      redis: redisServer.url,
      cluster: { flushInterval: '100ms', leaseTtl: '1s', idleReturn: '500ms' },
      alerts: { channels: [{ name: 'ops', type: 'webhook', url: hook.url, secret: 's3cret' }] },
      customers: [customer('watched'), customer('watched2')],
    });
  }, 180_000); // three proxies started one after the other on a loaded machine
  afterAll(async () => {
    await Promise.allSettled(nodes.map((n) => n.stop()));
    redis?.disconnect();
    await mock?.close();
    await redisServer?.stop();
    await new Promise((r) => hook.server.close(r));
  });

  it('notifies each threshold of a budget once, though three nodes saw it crossed', async () => {
    await spend('watched', [0, 1, 2]);
    await waitFor(async () => eventsOf('watched').length >= 2, 15_000);
    // Every node's outbox settles: the entries the other nodes held were delivered by one, not again.
    await waitFor(async () => (await Promise.all(nodes.map((n) => n.admin('/admin/cluster').then((c: any) => c.global.alerts)))).every((a: any) => a.pending === 0), 15_000);
    const events = eventsOf('watched');
    console.info(`alerts once: ${events.map((e) => e.threshold).join(', ')} delivered; per node ${JSON.stringify((await Promise.all(nodes.map((n) => n.admin('/admin/cluster').then((c: any) => c.global.alerts)))).map((a: any) => [a.delivered, a.delivered_by_other_nodes]))}`);
    expect(events.map((e) => e.threshold).sort()).toEqual([0.5, 1]);
  });

  it('still notifies each threshold once when the node delivering is killed with -9 mid-delivery', async () => {
    hook.up = false; // the first attempts fail: the claiming node holds the delivery, retrying
    await spend('watched2', [0, 1, 2]);
    await waitFor(async () => (await redis.keys('tollgate:alert:*')).length >= 4 && hook.refused >= 1, 15_000);
    const ids = await Promise.all(nodes.map((n) => n.admin('/admin/cluster').then((c: any) => c.node_id)));
    const claims = await Promise.all((await redis.keys('tollgate:alert:*')).map((k) => redis.get(k)));
    const claimer = ids.findIndex((id) => claims.includes(id));
    expect(claimer).toBeGreaterThanOrEqual(0);
    await nodes[claimer]!.kill9();
    hook.up = true;
    await waitFor(async () => eventsOf('watched2').length >= 2, 30_000);
    const alive = [0, 1, 2].filter((i) => i !== claimer);
    await waitFor(async () => (await Promise.all(alive.map((i) => nodes[i]!.admin('/admin/cluster').then((c: any) => c.global.alerts)))).every((a: any) => a.pending === 0), 30_000);
    console.info(`alerts with node ${claimer} killed mid-delivery: ${eventsOf('watched2').map((e) => e.threshold).join(', ')}`);
    expect(eventsOf('watched2').map((e) => e.threshold).sort()).toEqual([0.5, 1]);
  });
});
