import type { CallAmounts } from '../budget/budget-ref.js';
import { SHORT, type RateWindows } from './rate-windows.js';
import type { RateRef } from './scope-policy.js';

// Velocity caps in the decision: every window of the scope admits the call's
// estimate or none does; settle corrects tokens and money to the actuals.

export interface RateHold { ref: RateRef; amount: number }

export type VelocityVerdict =
  | { ok: true; holds: RateHold[] }
  | { ok: false; ref: RateRef; retryAfterMs: number }
  /** Cluster mode: the window has room but this node's grant does not; ask Redis for `amount` in bucket `epoch`. */
  | { ok: false; short: RateShort };

/** What a call needs granted in one window before it can be decided again (src/cluster/window-leases.ts). */
export interface RateShort { ref: RateRef; epoch: number; amount: number }

/**
 * The supervisor's answer to a RateShort: decide again (granted), the window
 * is full cluster-wide, or Redis is unreachable (`open`: decide on the local
 * windows alone, redisDown: open).
 */
export type RateShortfallVerdict = { v: 'retry' } | { v: 'exhausted'; retryAfterMs: number } | { v: 'unavailable'; open: boolean };

export function rateAmount(ref: RateRef, a: CallAmounts): number {
  if (ref.metric === 'requests') return a.requests;
  if (ref.metric === 'tokens') return Math.ceil(a.tokens);
  return Math.ceil(a.billedPico / 1000); // nano-USD
}

/** `unleased`: cluster mode with Redis unreachable under redisDown: open — the local windows alone decide. */
export function admitRates(windows: RateWindows, rates: readonly RateRef[], estimate: CallAmounts, now: number, unleased = false): VelocityVerdict {
  const holds: RateHold[] = [];
  for (const ref of rates) {
    const amount = rateAmount(ref, estimate);
    const wait = windows.tryAdd(ref, amount, now, unleased);
    if (wait !== 0) {
      releaseRates(windows, holds, now);
      if (wait === SHORT) return { ok: false, short: { ref, epoch: windows.epochOf(ref.windowMs, now), amount } };
      return { ok: false, ref, retryAfterMs: wait };
    }
    holds.push({ ref, amount });
  }
  return { ok: true, holds };
}

export function settleRates(windows: RateWindows, holds: readonly RateHold[], actual: CallAmounts, now: number): void {
  for (const h of holds) windows.adjust(h.ref, rateAmount(h.ref, actual) - h.amount, now);
}

export function releaseRates(windows: RateWindows, holds: readonly RateHold[], now: number): void {
  for (const h of holds) windows.adjust(h.ref, -h.amount, now);
}
