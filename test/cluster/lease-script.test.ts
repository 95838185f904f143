import { afterAll, beforeAll, beforeEach, expect, it } from 'vitest';
import { Redis } from 'ioredis';
import { defineLeaseScript, leaseArgs, parseLeaseReply, type LeaseReply, type LeaseRequest } from '../../src/cluster/lease-script.js';
import { describeWithRedis, startRedis, type RedisProcess } from '../helpers/redis-process.js';
import { sleep } from '../helpers/fixtures.js';

// The lease script against a real redis-server: how much a node gets, that
// no sequence of calls hands out more than the cap, that lapsed leases come
// back, and that replays change nothing.

let server: RedisProcess;
let redis: Redis;
let key = '';
let n = 0;

const base: Omit<LeaseRequest, 'node'> = { cap: 1000n, ttlMs: 10_000, spent: -1n, want: -1n, floor: 0n, need: -1n, growPpm: 0, growMin: 0n, expireAt: 0, recall: '' };

async function lease(node: string, r: Partial<LeaseRequest> = {}): Promise<LeaseReply> {
  return parseLeaseReply(await redis.tgLease(key, ...leaseArgs({ ...base, node, ...r })));
}

describeWithRedis('lease script', () => {
  beforeAll(async () => {
    server = await startRedis();
    redis = new Redis(server.url, { lazyConnect: true });
    defineLeaseScript(redis);
    await redis.connect();
  });
  afterAll(async () => {
    await redis?.quit();
    await server?.stop();
  });
  beforeEach(() => {
    key = `test:budget:${++n}`;
  });

  it('grants a share of the unclaimed remainder, split between the nodes holding leases', async () => {
    expect((await lease('a', { growPpm: 500_000 })).granted).toBe(500n);
    const b = await lease('b', { growPpm: 500_000 });
    expect(b.granted).toBe(125n); // (1000 − 500) × 0.5 / 2 active nodes
    expect(b.others).toBe(500n);
    expect(b.active).toBe(2);
  });

  it('never grants past the cap, whatever is asked', async () => {
    expect((await lease('a', { want: 700n })).granted).toBe(700n);
    const b = await lease('b', { want: 5000n });
    expect(b.granted).toBe(300n);
    expect(b.ceiling).toBe(300n);
  });

  it('hands out no more than the cap to twenty nodes asking at once', async () => {
    const replies = await Promise.all(Array.from({ length: 20 }, (_, i) => lease(`n${i}`, { want: 90n, growPpm: 300_000 })));
    const total = replies.reduce((s, r) => s + r.granted, 0n);
    expect(total).toBe(1000n);
    expect(replies.every((r) => r.granted >= 0n)).toBe(true);
  });

  it('counts settled spend as an absolute total that only grows, so a replayed report changes nothing', async () => {
    await lease('a', { spent: 300n });
    await lease('a', { spent: 300n });
    const r = await lease('a', { spent: 200n }); // a late, reordered report
    expect(r.mine).toBe(300n);
    expect((await lease('b', { spent: 50n })).spentTotal).toBe(350n);
  });

  it('gives a lapsed lease back to the pool once its TTL passes without renewal', async () => {
    expect((await lease('a', { want: 800n, spent: 100n, ttlMs: 300 })).granted).toBe(800n);
    expect((await lease('b', { want: 1000n })).granted).toBe(200n);
    await sleep(400);
    const b = await lease('b', { want: 1000n });
    expect(b.granted).toBe(900n); // a's unused 700 came back; its 100 spent stays spent
    expect(await redis.hget(key, 'g:a')).toBe('100');
  });

  it('gives back everything unused when the calls waiting cannot be served, so the remainder pools', async () => {
    await lease('a', { want: 600n, floor: 550n });
    await lease('b', { want: 380n });
    // a needs 100 more than it has committed (550): only 70 is free.
    const a = await lease('a', { want: 650n, need: 650n, floor: 550n });
    expect(a.granted).toBe(550n);
    // b's call fits in b's room plus what a gave back.
    const b = await lease('b', { want: 450n, need: 450n, floor: 350n });
    expect(b.granted).toBe(450n);
  });

  it('asks the other nodes to give back their room when a call would fit only with it', async () => {
    const sub = new Redis(server.url);
    const heard: string[] = [];
    await sub.subscribe('test:recall');
    sub.on('message', (_ch: string, m: string) => heard.push(m));
    try {
      await lease('a', { want: 900n, floor: 100n, recall: 'test:recall' }); // a sits on 800 unused
      const b = await lease('b', { want: 150n, need: 150n, floor: 0n, recall: 'test:recall' });
      expect(b.granted).toBe(0n);
      expect(b.othersRoom).toBe(800n);
      await sleep(50);
      expect(heard).toEqual([key]);
      // Nothing is published when nobody sits on room.
      await lease('a', { want: 100n, floor: 100n, recall: 'test:recall' });
      const again = await lease('b', { want: 950n, need: 950n, recall: 'test:recall' });
      expect(again.othersRoom).toBe(0n);
      await sleep(50);
      expect(heard).toHaveLength(1);
    } finally {
      sub.disconnect();
    }
  });

  it('never takes back what a node has committed, even past the cap (Redis restarted empty)', async () => {
    const a = await lease('a', { floor: 700n, spent: 650n });
    const b = await lease('b', { floor: 600n, spent: 600n, want: 900n });
    expect(a.granted).toBe(700n);
    expect(b.granted).toBe(600n);
    expect(b.others).toBe(700n);
    expect((await lease('c', { want: 10n })).granted).toBe(0n);
  });

  it('keeps a lease as it is when asked for nothing but a renewal', async () => {
    await lease('a', { want: 400n });
    const r = await lease('a');
    expect(r.granted).toBe(400n);
    expect(Number(await redis.hget(key, 'e:a'))).toBeGreaterThan(r.now + 9_000);
  });

  it('writes amounts above 2^50 as exact integers', async () => {
    const big = 3_000_000_000_000_000n; // 3 million USD in nano-units
    const r = await lease('a', { cap: big, want: big - 7n, spent: 123_456_789_012_345n });
    expect(r.granted).toBe(big - 7n);
    expect(await redis.hget(key, 'g:a')).toBe(String(big - 7n));
    expect(await redis.hget(key, 's:a')).toBe('123456789012345');
  });
});
