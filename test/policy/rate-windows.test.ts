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
