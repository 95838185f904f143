import type { BudgetRef } from '../budget/budget-ref.js';
import { limitToCounter } from '../budget/budget-ref.js';
import { agentScopeKey, customerScopeKey, keyScopeKey, type Aggregate } from '../store/aggregates.js';
import type { Exhausted, ShortfallVerdict } from './lease-policy.js';

// What this node knows about each budget it holds a lease on: the lease as
// Redis last confirmed it, what the shards did with it since, and the
// bookkeeping of the steps in flight. Plain data; the steps that change it
// are in lease-steps.ts, the timer in lease-tick.ts, the waiting calls in
// shortfall-queue.ts.

export interface Period { start: number; end: number; key: string }

export interface Waiter { amount: bigint; resolve: (v: ShortfallVerdict) => void }

export interface Lease {
  ref: BudgetRef;
  slot: number;
  scopeKey: string;
  cap: bigint;              // the budget's global hard cap
  limit: bigint;
  period: Period;
  granted: bigint;          // Redis's g for this node, this period
  published: bigint;        // Redis's s for this node
  othersSpent: bigint;      // other nodes' settled spend, last heard
  spentAbs: bigint;         // this node's settled spend from its ledger, last read
  unreportedSince: number;  // since when spentAbs differs from published (0: it does not)
  heldUntil: number;        // local time the lease is good until without a renewal
  lastRenew: number;
  lastChunk: bigint;
  callSize: bigint;
  dryUntil: number;
  exhausted: Exhausted | null;
  lastCommitted: bigint;
  lastSpent: bigint;
  lastActivity: number;
  quiet: number;            // ticks without a change in the slot
  mirrored: string;         // the usage counters Redis was last sent (see LeaseSteps.mirrorUsage)
  usageStale: boolean;      // the ledger's counters moved since (blocked calls move no budget)
  dirty: boolean;
  contendedUntil: number;   // another node's call did not fit lately: no growth, no top-ups
  busy: Promise<void> | null;
  waiters: Waiter[];
  pumping: boolean;
  ready: Promise<void>;
}

/** The usage counters as Redis mirrors them: a change means they are sent again. */
export const usageSignature = (a: Aggregate) => `${a.calls}/${a.blocked}/${a.tokens}/${a.billed_nano}/${a.cost_nano}`;

export function newLease(ref: BudgetRef, period: Period, now: number): Lease {
  const { cap, limit } = limitToCounter(ref);
  return {
    ref, slot: ref.slot, cap, limit,
    // The ledger aggregate this node's own spend on the budget is read from (an issued key's budget: the key's).
    scopeKey: ref.scope.key !== undefined ? keyScopeKey(ref.scope.key) : ref.scope.agent ? agentScopeKey(ref.scope.customer, ref.scope.agent) : customerScopeKey(ref.scope.customer),
    period,
    granted: 0n, published: -1n, othersSpent: 0n, spentAbs: 0n, unreportedSince: 0,
    heldUntil: 0, lastRenew: 0, lastChunk: 0n, callSize: 0n, dryUntil: 0, exhausted: null,
    lastCommitted: -1n, lastSpent: -1n, lastActivity: now, quiet: 0, mirrored: '', usageStale: false, dirty: false, contendedUntil: 0,
    busy: null, waiters: [], pumping: false, ready: Promise.resolve(),
  };
}

/** A lease belongs to one period: what Redis said about the last one no longer applies. */
export function startPeriod(lease: Lease, period: Period): void {
  Object.assign(lease, { period, granted: 0n, published: -1n, othersSpent: 0n, spentAbs: 0n, unreportedSince: 0, heldUntil: 0, lastChunk: 0n, dryUntil: 0, exhausted: null });
}

/** Every lease of this node, by table slot and by its current-period Redis key (for recalls). */
export class LeaseBook {
  readonly #bySlot = new Map<number, Lease>();
  readonly #byKey = new Map<string, Lease>();

  get size(): number {
    return this.#bySlot.size;
  }

  get(slot: number): Lease | undefined {
    return this.#bySlot.get(slot);
  }

  byKey(key: string): Lease | undefined {
    return this.#byKey.get(key);
  }

  add(lease: Lease, key: string): void {
    this.#bySlot.set(lease.slot, lease);
    this.#byKey.set(key, lease);
  }

  rekey(lease: Lease, from: string, to: string): void {
    this.#byKey.delete(from);
    this.#byKey.set(to, lease);
  }

  values(): IterableIterator<Lease> {
    return this.#bySlot.values();
  }
}
