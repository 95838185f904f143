import { describe, expect, it } from 'vitest';
import { RateWindows, SHORT } from '../../src/policy/rate-windows.js';

// Cluster mode: a window admits a call only out of what Redis granted this
// node for the bucket (src/cluster/window-leases.ts); what is left is taken
// back atomically, and use beyond grants shows as a negative remainder.

const T0 = 1_800_000_000_000;
const spec = { slot: 1, limit: 10, windowMs: 60_000 };

describe('leased velocity windows', () => {
  it('answers SHORT while the window has room but the bucket has no grant, and admits within a grant', () => {
    const w = RateWindows.create(4, 60, true);
    expect(w.tryAdd(spec, 1, T0)).toBe(SHORT);
    expect(w.used(spec, T0)).toBe(0); // a short call leaves nothing counted
    expect(w.grant(1, w.epochOf(60_000, T0), 2)).toBe(true);
    expect([w.tryAdd(spec, 1, T0), w.tryAdd(spec, 1, T0), w.tryAdd(spec, 1, T0)]).toEqual([0, 0, SHORT]);
    expect(w.used(spec, T0)).toBe(2);
  });

  it('still refuses with a wait when the local window itself is full, grant or not', () => {
    const w = RateWindows.create(4, 60, true);
    w.grant(1, w.epochOf(60_000, T0), 100);
    for (let i = 0; i < 10; i++) expect(w.tryAdd(spec, 1, T0)).toBe(0);
    expect(w.tryAdd(spec, 1, T0)).toBeGreaterThan(0);
  });

  it('gives back exactly the unused grant of a bucket, and only once', () => {
    const w = RateWindows.create(4, 60, true);
    const e = w.epochOf(60_000, T0);
    w.grant(1, e, 5);
    w.tryAdd(spec, 2, T0);
    expect(w.takeLeft(1, e, false)).toBe(0); // a live bucket keeps its grant
    expect(w.takeLeft(1, e, true)).toBe(3);
    expect(w.takeLeft(1, e, true)).toBe(0);
    expect(w.tryAdd(spec, 1, T0)).toBe(SHORT);
  });

  it('counts use beyond any grant (redisDown: open, settles above the estimate) as a negative remainder to report', () => {
    const w = RateWindows.create(4, 60, true);
    const e = w.epochOf(60_000, T0);
    expect(w.tryAdd(spec, 2, T0, true)).toBe(0);
    w.adjust(spec, 1, T0);
    expect(w.takeLeft(1, e, false)).toBe(-3);
    w.putLeft(1, e, -3); // Redis could not be told: reported next time
    expect(w.takeLeft(1, e, false)).toBe(-3);
  });

  it('drops a grant for a bucket that has moved on', () => {
    const w = RateWindows.create(4, 60, true);
    w.tryAdd(spec, 1, T0 + 60_000, true); // the ring slot now belongs to a later epoch
    expect(w.grant(1, w.epochOf(60_000, T0), 5)).toBe(false);
  });
});

describe('leased velocity windows at a bucket boundary', () => {
  it('carries what the previous bucket left into the next, and says how much so Redis can follow', () => {
    const w = RateWindows.create(4, 60, true);
    const e = w.epochOf(60_000, T0);
    w.grant(1, e, 5);
    w.tryAdd(spec, 2, T0);
    expect(w.tryAdd(spec, 1, T0 + 1_000)).toBe(0); // the next bucket starts with the 3 left over
    expect(w.takeLeft(1, e, true)).toBe(0);
    expect(w.takeCarried(1, e + 1)).toBe(3);
    expect(w.takeCarried(1, e + 1)).toBe(0);
    expect([w.tryAdd(spec, 1, T0 + 1_000), w.tryAdd(spec, 1, T0 + 1_000), w.tryAdd(spec, 1, T0 + 1_000)]).toEqual([0, 0, SHORT]);
  });
});
