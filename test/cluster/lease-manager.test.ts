import { afterEach, describe, expect, it } from 'vitest';
import { leaseHarness, type Harness } from './lease-harness.js';

// The lease manager's batching, memory of "nothing left", recall waits and
// timer steps, on a clock the test moves and a scripted stand-in for Redis
// (lease-harness.ts). Budgets here count requests: one call = 1.

let h: Harness | undefined;
afterEach(async () => {
  await h?.manager.close();
  await h?.close();
  h = undefined;
});

/** Lets the steps a tick or a recall started reach the stand-in and come back. */
const settleSteps = () => new Promise((r) => setImmediate(r));
const shortfallSteps = (x: Harness) => x.redis.steps((r) => r.need >= 0n).length;

describe('lease manager: calls whose lease came up short', () => {
  it('serves calls that arrive while a step is in flight with one more step for all of them', async () => {
    h = await leaseHarness(10);
    await h.manager.adopt([h.ref]);
    expect(h.table.cap(h.ref.slot)).toBe(5n); // half the budget: leaseFraction 0.5, one node
    for (let i = 0; i < 5; i++) expect(h.reserve()).toBe(true);
    expect(h.reserve()).toBe(false);

    h.redis.hold();
    const first = h.manager.shortfall([{ slot: h.ref.slot, amount: 1n }]);
    const later = [1, 2, 3].map(() => h!.manager.shortfall([{ slot: h!.ref.slot, amount: 1n }]));
    expect(shortfallSteps(h)).toBe(1);
    h.redis.release();

    expect(await Promise.all([first, ...later])).toEqual(['retry', 'retry', 'retry', 'retry']);
    expect(shortfallSteps(h)).toBe(2);
    const [, second] = h.redis.steps((r) => r.need >= 0n);
    // The batch asks for all three calls and needs at least one of them to fit.
    expect(second).toMatchObject({ want: 5n + 3n, need: 5n + 1n, floor: 5n });
    expect(h.table.cap(h.ref.slot) - h.table.committed(h.ref.slot)).toBeGreaterThanOrEqual(3n);
    const s = h.manager.snapshot();
    expect(s).toMatchObject({ shortfalls: 4, shortfalls_granted: 4, shortfalls_exhausted: 0 });
    expect(s.lease_ops.shortfall).toBe(2);
  });

  it('trusts "nothing left" for 250 ms while no other node holds unsettled budget, then asks again', async () => {
    h = await leaseHarness(10);
    h.redis.others = h.redis.othersSpent = 10n; // the other nodes spent all of it
    await h.manager.adopt([h.ref]);
    expect(h.table.cap(h.ref.slot)).toBe(0n);
    const ask = () => h!.manager.shortfall([{ slot: h!.ref.slot, amount: 1n }]);

    expect(await ask()).toBe('exhausted');
    expect(shortfallSteps(h)).toBe(1);
    h.clock.t += 100;
    expect(await ask()).toBe('exhausted');
    expect(shortfallSteps(h)).toBe(1);
    h.clock.t += 200;
    expect(await ask()).toBe('exhausted');
    expect(shortfallSteps(h)).toBe(2);
  });

  it('asks again at once while another node holds budget that may still come back', async () => {
    h = await leaseHarness(10);
    h.redis.others = 10n; // leased elsewhere, none of it settled yet
    await h.manager.adopt([h.ref]);
    const ask = () => h!.manager.shortfall([{ slot: h!.ref.slot, amount: 1n }]);
    expect(await ask()).toBe('exhausted');
    expect(await ask()).toBe('exhausted');
    expect(shortfallSteps(h)).toBe(2);
  });

  it('waits for room other nodes were asked to give back, four more tries 25 ms apart, then refuses', async () => {
    h = await leaseHarness(10);
    h.redis.others = 10n;
    h.redis.othersRoom = 10n; // ... and unused: a recall could bring it here
    await h.manager.adopt([h.ref]);
    const t = h.clock.t;
    expect(await h.manager.shortfall([{ slot: h.ref.slot, amount: 1n }])).toBe('exhausted');
    expect(shortfallSteps(h)).toBe(5);
    expect(h.clock.t - t).toBe(100);
  });

  it('gets the call through once a recalled node gives its room back', async () => {
    h = await leaseHarness(10);
    h.redis.others = 10n;
    h.redis.othersRoom = 10n;
    await h.manager.adopt([h.ref]);
    const sleep = h.clock.sleep;
    h.clock.sleep = async (ms) => {
      await sleep(ms);
      h!.redis.others = 0n; // the other node returned its lease meanwhile
      h!.redis.othersRoom = 0n;
    };
    expect(await h.manager.shortfall([{ slot: h.ref.slot, amount: 1n }])).toBe('retry');
    expect(shortfallSteps(h)).toBe(2);
    // Contended now: the retry fetched what the call needs and nothing to stock up.
    expect(h.redis.steps((r) => r.need >= 0n)[1]!.growPpm).toBe(0);
    expect(h.table.cap(h.ref.slot)).toBe(1n);
  });

  it('answers unavailable when Redis is unreachable and the held lease is used up (redisDown: closed)', async () => {
    h = await leaseHarness(10);
    await h.manager.adopt([h.ref]);
    for (let i = 0; i < 5; i++) h.reserve();
    h.redis.up = false;
    expect(await h.manager.shortfall([{ slot: h.ref.slot, amount: 1n }])).toBe('unavailable');
    expect(h.manager.snapshot().shortfalls_unavailable).toBe(1);
  });

  it('decides on local accounting up to the whole remaining budget when Redis is unreachable (redisDown: open)', async () => {
    h = await leaseHarness(10, { redisDown: 'open' });
    await h.manager.adopt([h.ref]);
    for (let i = 0; i < 5; i++) h.reserve();
    h.redis.up = false;
    expect(await h.manager.shortfall([{ slot: h.ref.slot, amount: 1n }])).toBe('retry');
    expect(h.table.cap(h.ref.slot)).toBe(10n);
    let more = 0;
    while (h.reserve()) more++;
    expect(more).toBe(5);
    expect(await h.manager.shortfall([{ slot: h.ref.slot, amount: 1n }])).toBe('exhausted');
    expect(h.manager.snapshot().shortfalls_open).toBe(1);
    expect(h.table.cap(h.ref.slot)).toBe(10n);
  });
});

describe('lease manager: the timer', () => {
  it('tops up a busy budget once its room falls below a quarter of the last growth', async () => {
    h = await leaseHarness(10);
    await h.manager.adopt([h.ref]);
    for (let i = 0; i < 4; i++) h.reserve();
    h.manager.tick();
    await settleSteps();
    expect(h.manager.snapshot().lease_ops.topup).toBe(0); // room 1 is not below 5 / 4
    h.reserve();
    h.clock.t += 200;
    h.manager.tick();
    await settleSteps();
    expect(h.manager.snapshot().lease_ops.topup).toBe(1);
    expect(h.table.cap(h.ref.slot)).toBe(7n); // half of the 5 still unclaimed, rounded down
  });

  it('reports the spend its ledger committed, as backlog until Redis confirms it', async () => {
    h = await leaseHarness(10);
    await h.manager.adopt([h.ref]);
    h.reserve();
    await h.settle();
    h.manager.tick();
    expect(h.manager.snapshot().reconcile_backlog).toBe(1);
    await settleSteps();
    const last = h.redis.sent.at(-1)!.req;
    expect(last.spent).toBe(1n);
    expect(h.manager.snapshot()).toMatchObject({ reconcile_backlog: 0, reconcile_backlog_age_ms: 0 });
  });

  it('renews a lease in use once a second and an idle one three times per lease TTL', async () => {
    h = await leaseHarness(10, { idleReturn: 600_000 });
    await h.manager.adopt([h.ref]);
    h.reserve();
    await h.settle();
    h.manager.tick(); // first sight of the settled call: a report
    await settleSteps();
    const renews = () => h!.manager.snapshot().lease_ops.renew;
    h.clock.t += 999;
    h.manager.tick();
    await settleSteps();
    expect(renews()).toBe(0);
    h.clock.t += 1;
    h.manager.tick();
    await settleSteps();
    expect(renews()).toBe(1);
    // A minute without calls: only the TTL keeps it alive, every 3 s (TTL 9 s).
    h.clock.t += 60_000;
    h.manager.tick();
    await settleSteps();
    expect(renews()).toBe(2);
    h.clock.t += 2_999;
    h.manager.tick();
    await settleSteps();
    expect(renews()).toBe(2);
    h.clock.t += 1;
    h.manager.tick();
    await settleSteps();
    expect(renews()).toBe(3);
  });

  it('hands an idle lease back after idleReturn, lowering the cap to what is committed first', async () => {
    h = await leaseHarness(10);
    await h.manager.adopt([h.ref]);
    h.reserve();
    h.manager.tick();
    await settleSteps();
    h.clock.t += 2_999;
    h.manager.tick();
    await settleSteps();
    expect(h.manager.snapshot().lease_ops.return).toBe(0);
    h.clock.t += 1;
    h.manager.tick();
    await settleSteps();
    expect(h.manager.snapshot().lease_ops.return).toBe(1);
    expect(h.redis.sent.at(-1)!.req).toMatchObject({ want: 1n, floor: 1n });
    expect(h.table.cap(h.ref.slot)).toBe(1n);
  });

  it('stops deciding on a lease that lapsed while Redis was unreachable (redisDown: closed)', async () => {
    h = await leaseHarness(10);
    await h.manager.adopt([h.ref]);
    h.reserve();
    h.redis.up = false;
    h.clock.t += 9_000;
    h.manager.tick();
    expect(h.table.cap(h.ref.slot)).toBe(5n); // still within its TTL
    h.clock.t += 1;
    h.manager.tick();
    expect(h.table.cap(h.ref.slot)).toBe(1n);
  });

  it('keeps deciding on a lapsed lease while Redis is unreachable under redisDown: open', async () => {
    h = await leaseHarness(10, { redisDown: 'open' });
    await h.manager.adopt([h.ref]);
    h.redis.up = false;
    h.clock.t += 10_000;
    h.manager.tick();
    expect(h.table.cap(h.ref.slot)).toBe(5n);
  });

  it('gives its unused room back at once when another node recalls it', async () => {
    h = await leaseHarness(10);
    await h.manager.adopt([h.ref]);
    h.reserve();
    h.redis.recall(h.redis.sent[0]!.key);
    expect(h.table.cap(h.ref.slot)).toBe(1n); // lowered before the step is even sent
    await settleSteps();
    expect(h.manager.snapshot().lease_ops.return).toBe(1);
    expect(h.redis.sent.at(-1)!.req).toMatchObject({ want: 1n, floor: 1n });
  });

  it('reports the old period as final and takes a fresh lease when a month ends', async () => {
    h = await leaseHarness(10);
    await h.manager.adopt([h.ref]);
    h.reserve();
    await h.settle();
    const march = h.redis.sent[0]!.key;
    h.clock.t = Date.parse('2026-04-01T00:00:01Z');
    h.manager.tick();
    await settleSteps();
    const final = h.redis.sent.find((s) => s.key === march && s.req.want === 0n)!;
    expect(final.req).toMatchObject({ spent: 1n, floor: 0n });
    const april = h.redis.sent.filter((s) => s.key !== march);
    expect(april.length).toBeGreaterThan(0);
    expect(april[0]!.req.spent).toBe(0n);
    expect(h.manager.snapshot().lease_ops).toMatchObject({ final: 1, acquire: 2 });
    expect(h.table.cap(h.ref.slot)).toBe(5n);
  });
});
