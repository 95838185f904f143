import { describe, expect, it } from 'vitest';
import { Worker } from 'node:worker_threads';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { IdempotencyClaims, WAYS, claimHash, claimHoldMs } from '../../src/proxy/idempotency-claims.js';
import { configSchema } from '../../src/config/schema.js';

// The process-wide idempotency claim table: one live claim per key whatever
// thread asks, stale claims taken over, a dead shard's claims dropped, a
// full table refusing rather than letting a copy through.

const HOLD = 1_000;
const T0 = 1_000_000;

describe('idempotency claims', () => {
  it('gives a key to one claimer until it is released', () => {
    const t = IdempotencyClaims.create(64);
    const h = claimHash('acme', 'order-1');
    const first = t.claim(h, 0, T0, HOLD);
    expect(first.outcome).toBe('claimed');
    expect(t.claim(h, 1, T0 + 1, HOLD).outcome).toBe('in_flight');
    expect(t.claim(h, 0, T0 + 1, HOLD).outcome).toBe('in_flight');
    // Another customer's key of the same name is another key.
    expect(t.claim(claimHash('beta', 'order-1'), 1, T0 + 1, HOLD).outcome).toBe('claimed');
    if (first.outcome === 'claimed') t.release(first.claim);
    expect(t.claim(h, 1, T0 + 2, HOLD).outcome).toBe('claimed');
  });

  it('lets a claim older than its hold be taken over, and ignores the stale holder releasing it afterwards', () => {
    const t = IdempotencyClaims.create(64);
    const h = claimHash('acme', 'slow');
    const stale = t.claim(h, 0, T0, HOLD);
    expect(t.claim(h, 1, T0 + HOLD - 1, HOLD).outcome).toBe('in_flight');
    const next = t.claim(h, 1, T0 + HOLD, HOLD);
    expect(next.outcome).toBe('claimed');
    if (stale.outcome === 'claimed') t.release(stale.claim);
    expect(t.claim(h, 0, T0 + HOLD + 1, HOLD).outcome).toBe('in_flight');
    expect(t.live(T0 + HOLD + 1)).toBe(1);
  });

  it('drops every claim of a shard that died, and only those', () => {
    const t = IdempotencyClaims.create(256);
    for (let i = 0; i < 40; i++) t.claim(claimHash('acme', `k${i}`), i % 2, T0, HOLD);
    expect(t.dropShard(1)).toBe(20);
    expect(t.live(T0)).toBe(20);
    expect(t.claim(claimHash('acme', 'k1'), 0, T0, HOLD).outcome).toBe('claimed');
    expect(t.claim(claimHash('acme', 'k0'), 0, T0, HOLD).outcome).toBe('in_flight');
  });

  it('refuses a new key when the table is full of live claims, and takes it once one expires', () => {
    const t = IdempotencyClaims.create(WAYS); // one bucket: both choices are the same bucket
    for (let i = 0; i < WAYS; i++) expect(t.claim(claimHash('acme', `k${i}`), 0, T0 + i, HOLD).outcome).toBe('claimed');
    expect(t.claim(claimHash('acme', 'one-too-many'), 0, T0 + WAYS, HOLD).outcome).toBe('full');
    // A live key already held still answers in_flight, not full.
    expect(t.claim(claimHash('acme', 'k3'), 1, T0 + WAYS, HOLD).outcome).toBe('in_flight');
    expect(t.claim(claimHash('acme', 'one-too-many'), 0, T0 + HOLD, HOLD).outcome).toBe('claimed');
  });

  it('fills close to its capacity before refusing (two choices per key)', () => {
    const t = IdempotencyClaims.create(4096);
    let claimed = 0;
    for (let i = 0; i < t.capacity; i++) if (t.claim(claimHash('acme', `fill-${i}`), 0, T0, HOLD).outcome === 'claimed') claimed++;
    expect(claimed / t.capacity).toBeGreaterThan(0.9);
  });

  it('holds a claim for the longest call the config allows: attempts × the largest total timeout, plus a minute', () => {
    const config = configSchema.parse({
      providers: [
        { name: 'a', type: 'openai', baseUrl: 'http://127.0.0.1:1/v1', timeouts: { total: 30_000 } },
        { name: 'b', type: 'openai', baseUrl: 'http://127.0.0.1:1/v1' },
      ],
      routes: [{ model: 'm', targets: [{ provider: 'a', model: 'x', timeouts: { total: 900_000 } }], retry: { maxAttempts: 4 } }],
    });
    expect(claimHoldMs(config)).toBe(4 * 900_000 + 60_000);
  });

  const built = fileURLToPath(new URL('../../dist/proxy/idempotency-claims.js', import.meta.url));
  it.skipIf(!existsSync(built))('gives each key to exactly one of four threads racing for the same keys', async () => {
    const t = IdempotencyClaims.create(8192);
    const keys = 2000;
    const code = `
      const { workerData, parentPort } = require('node:worker_threads');
      import(workerData.module).then(({ IdempotencyClaims, claimHash }) => {
        const t = new IdempotencyClaims(workerData.sab);
        const hashes = Array.from({ length: workerData.keys }, (_, i) => claimHash('acme', 'race-' + i));
        const start = new Int32Array(workerData.start);
        Atomics.add(start, 1, 1);
        while (Atomics.load(start, 0) === 0) {}
        let won = [];
        for (let k = 0; k < hashes.length; k++) {
          const i = (k + workerData.shard * 499) % hashes.length;
          if (t.claim(hashes[i], workerData.shard, 1000, 60000).outcome === 'claimed') won.push(i);
        }
        parentPort.postMessage(won);
      });`;
    const start = new Int32Array(new SharedArrayBuffer(8));
    const workers = Array.from({ length: 4 }, (_, shard) => new Worker(code, { eval: true, workerData: { module: built, sab: t.sab, keys, shard, start: start.buffer } }));
    const results = workers.map((w) => new Promise<number[]>((resolve, reject) => { w.once('message', resolve); w.once('error', reject); }));
    while (Atomics.load(start, 1) < 4) await new Promise((r) => setTimeout(r, 5));
    Atomics.store(start, 0, 1);
    const won = await Promise.all(results);
    await Promise.all(workers.map((w) => w.terminate()));
    const all = won.flat().sort((a, b) => a - b);
    expect(all).toEqual(Array.from({ length: keys }, (_, i) => i));
  });
});
