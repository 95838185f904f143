import type { BudgetTable } from './budget-table.js';
import type { PeriodClock } from './periods.js';
import { counterAmount, limitToCounter, type BudgetRef, type CallAmounts } from './budget-ref.js';

// The enforcement decision: pure, in-memory, no I/O. It reserves the call's
// estimated amount on every budget in scope or on none of them.

export interface Hold { ref: BudgetRef; amount: bigint }

export type Decision =
  /** `shadow`: the first shadow budget (enforce: false) that would have refused this call; it was reserved anyway. */
  | { allow: true; holds: Hold[]; shadow?: BudgetRef }
  | { allow: false; deny: 'budget_exceeded'; ref: BudgetRef; needed: bigint };

export function decide(
  table: BudgetTable,
  refs: readonly BudgetRef[],
  estimate: CallAmounts,
  shard: number,
  now: number,
  clock: PeriodClock,
): Decision {
  const holds: Hold[] = [];
  let shadow: BudgetRef | undefined;
  for (const ref of refs) {
    table.rollover(ref.slot, clock.window(ref.period, now, ref.timeZone).start);
    const amount = counterAmount(ref, estimate, true);
    if (ref.enforce === false) {
      if (shadowRefuses(table, ref, amount)) shadow ??= ref;
      table.forceReserve(ref.slot, amount, shard);
    } else if (!table.tryReserve(ref.slot, amount, shard)) {
      for (const h of holds) table.release(h.ref.slot, h.amount, shard);
      return { allow: false, deny: 'budget_exceeded', ref, needed: amount };
    }
    holds.push({ ref, amount });
  }
  return shadow ? { allow: true, holds, shadow } : { allow: true, holds };
}

/**
 * Whether a shadow budget would refuse `amount`, by the same rule as
 * tryReserve. A leased slot's cap is this node's lease, not the budget, so
 * there the budget's own cap is compared with the whole cluster's
 * commitments as this node knows them (its own plus the others' settled).
 */
function shadowRefuses(table: BudgetTable, ref: BudgetRef, amount: bigint): boolean {
  if (!table.leased) return table.committed(ref.slot) + amount > table.cap(ref.slot);
  return table.committed(ref.slot) + table.base(ref.slot) + amount > limitToCounter(ref).cap;
}

/**
 * The largest output token count every money and token budget in scope can
 * still pay for, given the prompt's cost; Infinity when nothing limits it.
 * Used to clamp max_tokens so even the estimate cannot overshoot.
 */
export function affordableOutputTokens(
  table: BudgetTable,
  refs: readonly BudgetRef[],
  prompt: { billedPico: number; tokens: number },
  outputPicoPerToken: number,
  now: number,
  clock: PeriodClock,
): number {
  let best = Infinity;
  for (const ref of refs) {
    if (ref.enforce === false) continue; // a shadow budget never limits the call
    table.rollover(ref.slot, clock.window(ref.period, now, ref.timeZone).start);
    const room = table.cap(ref.slot) - table.committed(ref.slot);
    if (ref.kind === 'tokens') {
      best = Math.min(best, Number(room) - prompt.tokens);
    } else if (ref.kind === 'money' && outputPicoPerToken > 0) {
      const roomPico = (Number(room) * 1000) / ref.rate;
      best = Math.min(best, Math.floor((roomPico - prompt.billedPico) / outputPicoPerToken));
    }
  }
  return best;
}

export function settleHolds(table: BudgetTable, holds: readonly Hold[], actual: CallAmounts, shard: number, expired: boolean): void {
  for (const h of holds) table.settle(h.ref.slot, expired ? 0n : h.amount, counterAmount(h.ref, actual), shard);
}

export function releaseHolds(table: BudgetTable, holds: readonly Hold[], shard: number): void {
  for (const h of holds) table.release(h.ref.slot, h.amount, shard);
}

/**
 * Grows a call's holds by `extra` on every budget or on none of them (a
 * stream that outgrew its hold). The holds are raised in place, so settle
 * and release later return the whole amount. A hold is raised as soon as its
 * budget took the extra (no list of the amounts made per growth): when a
 * later budget cannot, what was added before it is worked out again (the same
 * amounts: counterAmount is a pure function of the same arguments) and given back.
 */
export function extendHolds(table: BudgetTable, holds: Hold[], extra: CallAmounts, shard: number, now: number, clock: PeriodClock): boolean {
  for (let i = 0; i < holds.length; i++) {
    const h = holds[i]!;
    table.rollover(h.ref.slot, clock.window(h.ref.period, now, h.ref.timeZone).start);
    const amount = counterAmount(h.ref, extra, true);
    if (amount > 0n && !table.tryReserve(h.ref.slot, amount, shard)) {
      for (let j = 0; j < i; j++) unextend(table, holds[j]!, counterAmount(holds[j]!.ref, extra, true), shard);
      return false;
    }
    if (amount !== 0n) h.amount += amount; // a request budget's extra is 0: no BigInt made for it
  }
  return true;
}

function unextend(table: BudgetTable, h: Hold, amount: bigint, shard: number): void {
  if (amount === 0n) return;
  table.release(h.ref.slot, amount, shard);
  h.amount -= amount;
}
