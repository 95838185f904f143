import type { CallAmounts } from '../budget/budget-ref.js';
import type { RateWindows } from './rate-windows.js';
import type { RateRef } from './scope-policy.js';

// Velocity caps in the decision: every window of the scope admits the call's
// estimate or none does; settle corrects tokens and money to the actuals.

export interface RateHold { ref: RateRef; amount: number }

export type VelocityVerdict =
  | { ok: true; holds: RateHold[] }
  | { ok: false; ref: RateRef; retryAfterMs: number };

export function rateAmount(ref: RateRef, a: CallAmounts): number {
  if (ref.metric === 'requests') return a.requests;
  if (ref.metric === 'tokens') return Math.ceil(a.tokens);
  return Math.ceil(a.billedPico / 1000); // nano-USD
}

export function admitRates(windows: RateWindows, rates: readonly RateRef[], estimate: CallAmounts, now: number): VelocityVerdict {
  const holds: RateHold[] = [];
  for (const ref of rates) {
    const amount = rateAmount(ref, estimate);
    const wait = windows.tryAdd(ref, amount, now);
    if (wait > 0) {
      releaseRates(windows, holds, now);
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
