import { describe, expect, it } from 'vitest';
import { combineVerdicts, lowWater, shareRoom, shortfallNeed, stillExhausted, tickIntent, type LeaseState } from '../../src/cluster/lease-policy.js';

const timing = { ttlMs: 9_000, idleReturnMs: 3_000 };
const state = (s: Partial<LeaseState> = {}): LeaseState => ({
  now: 100_000, room: 1_000n, committed: 500n, granted: 1_500n, published: 400n, spentAbs: 400n,
  lastActivity: 99_900, lastRenew: 99_500, lastChunk: 1_000n, callSize: 10n, dryUntil: 0, dirty: false, contended: false, ...s,
});

describe('lease policy', () => {
  it('says nothing for a busy budget with room, spend reported and a fresh lease', () => {
    expect(tickIntent(state(), timing)).toBeNull();
  });

  it('tops a busy budget up once its room falls below a quarter of its last growth', () => {
    expect(tickIntent(state({ room: 249n }), timing)).toBe('topup');
    expect(tickIntent(state({ room: 250n }), timing)).toBeNull();
  });

  it('does not top up again right after a top-up found nothing', () => {
    expect(tickIntent(state({ room: 0n, dryUntil: 100_500 }), timing)).toBeNull();
  });

  it('does not stock up on a contended budget: calls fetch what they need', () => {
    expect(tickIntent(state({ room: 0n, contended: true }), timing)).toBeNull();
  });

  it('gives the lease back once the budget has been idle for idleReturn', () => {
    expect(tickIntent(state({ lastActivity: 96_999 }), timing)).toBe('return');
    expect(tickIntent(state({ lastActivity: 96_999, room: 0n, granted: 500n }), timing)).not.toBe('return');
  });

  it('reports settled spend Redis has not seen, and everything after Redis restarted', () => {
    expect(tickIntent(state({ spentAbs: 450n }), timing)).toBe('report');
    expect(tickIntent(state({ dirty: true }), timing)).toBe('report');
    expect(tickIntent(state({ spentAbs: 300n }), timing)).toBeNull(); // Redis already knows more (a replay)
  });

  it('renews an outstanding lease three times per TTL', () => {
    expect(tickIntent(state({ lastRenew: 97_000 }), timing)).toBe('renew');
    expect(tickIntent(state({ lastRenew: 97_000, granted: 400n, room: 0n, committed: 400n, lastActivity: 30_000 }), timing)).toBeNull();
  });

  it('refreshes a budget in use once a second to hear the other nodes\' spend', () => {
    expect(tickIntent(state({ lastRenew: 98_999 }), timing)).toBe('renew');
    expect(tickIntent(state({ lastRenew: 98_999, lastActivity: 39_000, room: 0n, granted: 400n, committed: 400n }), timing)).toBeNull();
  });

  it('keeps the low-water mark at one call at least', () => {
    expect(lowWater(0n, 30n)).toBe(30n);
    expect(lowWater(4_000n, 30n)).toBe(1_000n);
  });

  it('sums the calls waiting on a budget and shares room among them in arrival order', () => {
    expect(shortfallNeed([5n, 3n, 9n])).toEqual({ sum: 17n, min: 3n, max: 9n });
    expect(shareRoom([5n, 3n, 9n, 1n], 9n)).toEqual([true, true, false, true]);
  });

  it('remembers for a moment that Redis had nothing left, unless the call now fits', () => {
    const ex = { at: 1_000, free: 5n };
    expect(stillExhausted(ex, 1_100, 10n, 2n)).toBe(true);
    expect(stillExhausted(ex, 1_100, 7n, 2n)).toBe(false);
    expect(stillExhausted(ex, 1_300, 10n, 2n)).toBe(false);
    expect(stillExhausted(null, 1_100, 10n, 2n)).toBe(false);
  });

  it('lets a call proceed only when every short budget may', () => {
    expect(combineVerdicts(['retry', 'retry'])).toBe('retry');
    expect(combineVerdicts(['retry', 'exhausted'])).toBe('exhausted');
    expect(combineVerdicts(['exhausted', 'unavailable'])).toBe('unavailable');
  });
});
