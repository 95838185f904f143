// When a node talks to Redis about a budget, decided from numbers alone
// (pure: no Redis, no clock of its own). How much it gets is decided inside
// the lease script, atomically with every other node's claims.
//
// All amounts are the budget's counter units (nano-units of money, tokens,
// requests) for this node in the current period.

/** What the manager does for one budget on a tick; null: nothing to say. */
export type TickIntent = 'return' | 'topup' | 'report' | 'renew' | null;

export interface LeaseState {
  now: number;
  /** Local room: the lease not yet committed (cap − committed). */
  room: bigint;
  committed: bigint;
  /** The lease as Redis last confirmed it (running total for the period). */
  granted: bigint;
  /** This node's settled spend as Redis last confirmed it. */
  published: bigint;
  /** This node's settled spend from its own ledger. */
  spentAbs: bigint;
  lastActivity: number;
  lastRenew: number;
  /** Size of the last growth the lease got. */
  lastChunk: bigint;
  /** Largest single call this budget has seen come up short. */
  callSize: bigint;
  /** No background top-up before this (the last one found nothing). */
  dryUntil: number;
  /** Redis may have lost what it knew (it restarted): say everything again. */
  dirty: boolean;
  /** Another node's call did not fit lately: calls fetch what they need, nobody stocks up. */
  contended: boolean;
}

export interface LeaseTiming {
  ttlMs: number;
  idleReturnMs: number;
}

/** A budget used within this long counts as in use. */
const RECENT_MS = 60_000;
const REFRESH_MS = 1_000;

export function tickIntent(s: LeaseState, t: LeaseTiming): TickIntent {
  const busy = s.now - s.lastActivity < t.idleReturnMs;
  // Settled down with budget in hand: give it back so busier nodes can use it.
  if (!busy && s.room > 0n && s.granted > s.committed) return 'return';
  // Running low while calls keep coming: top up before a call has to wait.
  if (busy && !s.contended && s.now >= s.dryUntil && s.room < lowWater(s.lastChunk, s.callSize)) return 'topup';
  if (s.dirty || s.spentAbs > s.published) return 'report';
  // A lease not renewed lapses in Redis after the TTL; three beats per TTL.
  if (s.granted > s.spentAbs && s.now - s.lastRenew >= t.ttlMs / 3) return 'renew';
  // A budget in use hears the other nodes' spend at least once a second (what reports and refusals show as used).
  if (s.now - s.lastActivity < RECENT_MS && s.now - s.lastRenew >= REFRESH_MS) return 'renew';
  return null;
}

/**
 * Room below which a busy budget tops up: a quarter of the last growth, and
 * never less than one call. Near the cap growth shrinks to nothing, so the
 * mark falls to one call and calls themselves fetch what they need.
 */
export function lowWater(lastChunk: bigint, callSize: bigint): bigint {
  const quarter = lastChunk / 4n;
  return quarter > callSize ? quarter : callSize;
}

/** Calls waiting on one budget: the total they need and the smallest (least that is useful). */
export function shortfallNeed(amounts: readonly bigint[]): { sum: bigint; min: bigint; max: bigint } {
  let sum = 0n;
  let min = amounts[0] ?? 0n;
  let max = 0n;
  for (const a of amounts) {
    sum += a;
    if (a < min) min = a;
    if (a > max) max = a;
  }
  return { sum, min, max };
}

/** Hands out `room` to waiting calls in arrival order: true for each that now fits. */
export function shareRoom(amounts: readonly bigint[], room: bigint): boolean[] {
  let left = room;
  return amounts.map((a) => {
    if (a > left) return false;
    left -= a;
    return true;
  });
}

/** How long a "Redis has no more of this budget" answer is trusted without asking again. */
export const EXHAUSTED_MEMORY_MS = 250;

export interface Exhausted { at: number; free: bigint }

/** True when Redis said recently that even `min` more does not fit, so asking again is pointless. */
export function stillExhausted(ex: Exhausted | null, now: number, min: bigint, room: bigint): boolean {
  return ex !== null && now - ex.at < EXHAUSTED_MEMORY_MS && min > room + ex.free;
}

/**
 * What a shard hears back after its lease came up short: decide again (room
 * arrived), the global budget has no more (402), or Redis is unreachable and
 * the held lease is used up (503 under redisDown: closed).
 */
export type ShortfallVerdict = 'retry' | 'exhausted' | 'unavailable';

/** Several budgets of one call came up short: the call proceeds only if all of them may. */
export function combineVerdicts(vs: readonly ShortfallVerdict[]): ShortfallVerdict {
  if (vs.includes('unavailable')) return 'unavailable';
  if (vs.includes('exhausted')) return 'exhausted';
  return 'retry';
}
