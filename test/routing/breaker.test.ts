import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startMockUpstream } from '../../bench/mock-upstream.mjs';
import { startTollgate, type Tollgate, TEST_CLOCK } from '../helpers/tollgate-process.js';
import { sleep } from '../helpers/fixtures.js';
import { answered, chat, customer, hammer, openaiProvider } from './helpers.js';

// Circuit breaking, counted at the mock of the dead target. Breakers are
// per shard (2 shards here): a dead target gets up to failures × 2 calls
// before both shards skip it, then at most one probe per shard per cooldown.

let dead: Awaited<ReturnType<typeof startMockUpstream>>;
let limited: Awaited<ReturnType<typeof startMockUpstream>>;
let backup: Awaited<ReturnType<typeof startMockUpstream>>;
let slow: Awaited<ReturnType<typeof startMockUpstream>>;
let tg: Tollgate;
const SHARDS = 2;

beforeAll(async () => {
  dead = await startMockUpstream({ completionTokens: 4 });
  limited = await startMockUpstream({ completionTokens: 4 });
  backup = await startMockUpstream({ completionTokens: 4 });
  slow = await startMockUpstream({ completionTokens: 4, latencyMs: 40 });
  tg = await startTollgate({
    providers: [
      openaiProvider('dead', dead.url, { breaker: { failures: 3, cooldown: '1s' } }),
      openaiProvider('limited', limited.url, { breaker: { failures: 100, cooldown: '30s' } }),
      openaiProvider('backup', backup.url),
      openaiProvider('slow', slow.url),
    ],
    routes: [
      { model: 'br', targets: [{ provider: 'dead', model: 'gpt-4o-mini' }, { provider: 'backup', model: 'gpt-4o-mini', priority: 1 }] },
      { model: 'rl', targets: [{ provider: 'limited', model: 'gpt-4o-mini' }, { provider: 'backup', model: 'gpt-4o-mini', priority: 1 }] },
      { model: 'solo', targets: [{ provider: 'dead', model: 'gpt-4o' }] },
      { model: 'slow', targets: [{ provider: 'slow', model: 'gpt-4o-mini' }] },
    ],
    customers: [customer],
  }, { clockStart: TEST_CLOCK, shards: SHARDS });
});

afterAll(async () => {
  await tg?.stop();
  await Promise.all([dead?.close(), limited?.close(), backup?.close(), slow?.close()]);
});

beforeEach(() => {
  dead.reset();
  limited.reset();
  backup.reset();
});

/** Calls `model` back to back (4 in flight) for `ms`; returns every result. */
async function callFor(model: string, ms: number) {
  const end = Date.now() + ms;
  const results: Awaited<ReturnType<typeof chat>>[] = [];
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (Date.now() < end) {
      results.push(await chat(tg.url, model));
      await sleep(5);
    }
  }));
  return results;
}

describe('circuit breaker', () => {
  it('a dead target gets a handful of probes per cooldown, not one call per client call, and clients never notice', async () => {
    dead.setBehavior({ fail: '500' });
    // Opening: `failures` calls per shard, plus the few already in flight (4) when a breaker opened.
    const opening = await hammer(40, 4, () => chat(tg.url, 'br'));
    expect(opening.every((r) => answered(r, false))).toBe(true);
    const afterOpening = dead.stats().requests;
    expect(afterOpening).toBeLessThanOrEqual(3 * SHARDS + 4);

    // At least 3.2 s and at least 150 client calls: on a loaded machine 150 calls take
    // longer, so the probe bound below follows the time it really took, not a fixed window.
    const t0 = Date.now();
    const results: Awaited<ReturnType<typeof chat>>[] = [];
    while (Date.now() - t0 < 3200 || results.length < 150) {
      results.push(...(await callFor('br', 400)));
      if (Date.now() - t0 > 30_000) break; // a stall, not load: the length check below reports it
    }
    const elapsed = Date.now() - t0;
    expect(results.length).toBeGreaterThanOrEqual(150);
    expect(results.every((r) => answered(r, false))).toBe(true);
    const probes = dead.stats().requests - afterOpening;
    console.info(`dead target: ${afterOpening} calls while the breakers opened, then ${probes} probes over ${elapsed} ms (cooldown 1 s, ${SHARDS} shards) while ${results.length} client calls all succeeded`);
    // A 1 s cooldown: at most one probe per shard per cooldown window started (≤ 4 each in 3.2 s).
    const windows = Math.floor(elapsed / 1000) + 1;
    expect(probes).toBeGreaterThanOrEqual(1);
    expect(probes).toBeLessThanOrEqual(windows * SHARDS);

    const view = await tg.admin('/admin/providers');
    const t = view.providers.find((p: any) => p.name === 'dead').targets.find((x: any) => x.target === 'dead/gpt-4o-mini');
    expect(t.state === 'cooling_down' || t.state === 'half_open').toBe(true);
    expect(t.last_error.message).toBe('HTTP 500');
    expect(t.failures).toBe(dead.stats().requests);
  });

  it('a target that recovers gets its traffic back after a successful probe', async () => {
    dead.setBehavior({ fail: null });
    await sleep(1100); // past the cooldown: the next call on each shard is the probe
    // The kernel picks a connection's shard, and a kept-alive connection stays on it: each call goes on a
    // connection of its own, until every shard has probed and closed its breaker (calls beside a probe go to backup).
    const target = async () => (await tg.admin('/admin/providers')).providers.find((p: any) => p.name === 'dead').targets.find((x: any) => x.target === 'dead/gpt-4o-mini');
    for (let i = 0; i < 50 && (await target()).state !== 'healthy'; i++) await hammer(4, 2, () => chat(tg.url, 'br', { fresh: true }));
    expect((await target()).state).toBe('healthy');
    const warmup = dead.stats().requests;
    dead.reset({ keepBehavior: true });
    backup.reset({ keepBehavior: true });
    const results = await hammer(100, 4, () => chat(tg.url, 'br'));
    expect(results.every((r) => answered(r, false))).toBe(true);
    expect(dead.stats().requests).toBe(100);
    expect(backup.stats().requests).toBe(0);
    const t = await target();
    expect(t.state).toBe('healthy');
    expect(t.cooling_down_until).toBeNull();
    // Every success since recovery is a latency sample; the failures before it are not.
    expect(t.latency_ms.samples).toBe(warmup + 100);
  });

  it('reports a target\'s latency as the time to its answer', async () => {
    // The slow mock answers after 40 ms: every sample, so p50 and p99, is at least that.
    const results = await hammer(20, 2, () => chat(tg.url, 'slow'));
    expect(results.every((r) => answered(r, false))).toBe(true);
    const view = await tg.admin('/admin/providers');
    const t = view.providers.find((p: any) => p.name === 'slow').targets[0];
    expect(t.latency_ms.samples).toBe(20);
    expect(t.latency_ms.p50).toBeGreaterThanOrEqual(40);
    expect(t.latency_ms.p99).toBeGreaterThanOrEqual(t.latency_ms.p50);
  });

  it('retry-after on an upstream 429 sets that target\'s cooldown', async () => {
    limited.setBehavior({ fail: '429', retryAfter: 2 });
    const first = await callFor('rl', 500);
    const reachedEarly = limited.stats().requests;
    const rest = await callFor('rl', 1000);
    expect([...first, ...rest].every((r) => answered(r, false))).toBe(true);
    // Enough calls inside the 2 s cooldown that a breaker ignoring retry-after would send
    // some of them; not a throughput bound (a loaded machine makes far fewer than an idle one).
    expect(rest.length).toBeGreaterThanOrEqual(12);
    // Each shard's first 429 opens it for 2 s: only calls already on their way get there, none in the next second.
    expect(reachedEarly).toBeLessThanOrEqual(4 + SHARDS);
    expect(limited.stats().requests).toBe(reachedEarly);
    const view = await tg.admin('/admin/providers');
    const t = view.providers.find((p: any) => p.name === 'limited').targets[0];
    expect(t.state).toBe('cooling_down');
    expect(t.last_error.message).toBe('HTTP 429');
  });

  it('a route whose only target is cooling down answers 503 with retry-after, without calling it', async () => {
    dead.setBehavior({ fail: '500' });
    const results = await hammer(30, 3, () => chat(tg.url, 'solo'));
    // The calls that reached it got its 500 back (nothing else to try); the rest were refused at once.
    const refused = results.filter((r) => r.status === 503);
    expect(refused.length).toBeGreaterThan(20);
    expect(Number(refused[0]!.retryAfter)).toBeGreaterThanOrEqual(1);
    expect(JSON.parse(refused[0]!.text).error.type).toBe('overloaded_error');
    // `failures` per shard, plus the calls already in flight (3) when a breaker opened.
    expect(dead.stats().requests).toBeLessThanOrEqual(3 * SHARDS + 3);
    expect(results.filter((r) => r.status === 500).length).toBe(dead.stats().requests);
  });
});
