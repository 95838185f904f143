import { describe, expect, it } from 'vitest';
import { RateWindows } from '../../src/policy/rate-windows.js';
import { LoopGuard } from '../../src/policy/loop-guard.js';
import { createHash } from 'node:crypto';

const T0 = 1_800_000_000_000;

describe('sliding velocity windows', () => {
  it('admits up to the limit within a minute and says when the next one fits', () => {
    const w = RateWindows.create(4);
    const spec = { slot: 0, limit: 3, windowMs: 60_000 };
    expect([0, 1, 2].map((i) => w.tryAdd(spec, 1, T0 + i * 1000))).toEqual([0, 0, 0]);
    const wait = w.tryAdd(spec, 1, T0 + 10_000);
    expect(wait).toBeGreaterThan(49_000);
    expect(wait).toBeLessThanOrEqual(51_000);
    expect(w.used(spec, T0 + 10_000)).toBe(3);
  });

  it('slides: calls older than the window stop counting', () => {
    const w = RateWindows.create(4);
    const spec = { slot: 1, limit: 2, windowMs: 60_000 };
    w.tryAdd(spec, 1, T0);
    w.tryAdd(spec, 1, T0 + 30_000);
    expect(w.tryAdd(spec, 1, T0 + 59_000)).toBeGreaterThan(0);
    expect(w.tryAdd(spec, 1, T0 + 61_000)).toBe(0);
  });

  it('corrects an estimate to the actual amount on settle', () => {
    const w = RateWindows.create(4);
    const spec = { slot: 2, limit: 1000, windowMs: 60_000 };
    w.tryAdd(spec, 400, T0);
    w.adjust(spec, -150, T0 + 500);
    expect(w.used(spec, T0 + 1000)).toBe(250);
  });

  it('admits by the window\'s sum after idle gaps, bucket boundaries and settles, as a walk of its buckets counts it', () => {
    // Admission reads a running total; used() walks the buckets. A fixed pseudo-random run of adds,
    // settles and idle gaps (some longer than the window) must see the same sum at every step.
    const w = RateWindows.create(2);
    const spec = { slot: 1, limit: 40, windowMs: 60_000 };
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    let t = T0;
    for (let i = 0; i < 5000; i++) {
      const r = next();
      t += r < 0.02 ? 70_000 + next() * 60_000 : r < 0.1 ? next() * 5_000 : next() * 400;
      const before = w.used(spec, t);
      const amount = 1 + Math.floor(next() * 5);
      const admitted = w.tryAdd(spec, amount, t) === 0;
      expect(admitted).toBe(before + amount <= spec.limit);
      if (admitted && next() < 0.3) w.adjust(spec, -Math.floor(next() * amount), t + next() * 300);
    }
  });

  it('counts afresh in a cleared slot taken over by a window of another width', () => {
    const w = RateWindows.create(2);
    const minute = { slot: 0, limit: 5, windowMs: 60_000 };
    const hour = { slot: 0, limit: 2, windowMs: 3_600_000 };
    for (let i = 0; i < 5; i++) w.tryAdd(minute, 1, T0 + i);
    w.clear(0);
    expect([0, 1].map((i) => w.tryAdd(hour, 1, T0 + 120_000 + i * 1000))).toEqual([0, 0]);
    expect(w.tryAdd(hour, 1, T0 + 122_000)).toBeGreaterThan(0);
  });

  it('keeps windows of different slots apart', () => {
    const w = RateWindows.create(4);
    w.tryAdd({ slot: 0, limit: 1, windowMs: 60_000 }, 1, T0);
    expect(w.tryAdd({ slot: 3, limit: 1, windowMs: 60_000 }, 1, T0)).toBe(0);
  });
});

describe('loop guard', () => {
  const fp = (s: string) => createHash('sha256').update(s).digest();

  it('counts the same fingerprint within a window and starts over in the next', () => {
    const g = LoopGuard.create(1024);
    const counts = Array.from({ length: 5 }, (_, i) => g.hit(fp('same body'), 60_000, T0 + i));
    expect(counts).toEqual([1, 2, 3, 4, 5]);
    expect(g.hit(fp('other body'), 60_000, T0 + 10)).toBe(1);
    expect(g.hit(fp('same body'), 60_000, T0 + 120_000)).toBe(1);
  });
});
