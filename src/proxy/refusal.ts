import type { BudgetRef } from '../budget/budget-ref.js';
import { counterToUnit, displayLimit } from '../budget/budget-ref.js';
import type { BudgetTable } from '../budget/budget-table.js';
import { neverResets, type PeriodClock } from '../budget/periods.js';

// The `scope` of a budget refusal (docs/interface.md) and the sentence that says it.

export interface RefusalScope {
  customer: string;
  agent: string | null;
  /** Budgets of an issued key (`source: "key"`): the key's id. */
  key_id?: string;
  /** Session refusals only (`period: "session"`). */
  session?: string;
  source: string;
  unit: string;
  period: string;
  limit: number;
  used: number;
  remaining: number;
  resets_at: string | null;
}

export function refusalScope(ref: BudgetRef, table: BudgetTable, clock: PeriodClock, now: number): RefusalScope {
  const s = table.read(ref.slot);
  const w = clock.window(ref.period, now, ref.timeZone);
  const remaining = s.cap > s.committed ? s.cap - s.committed : 0n;
  return {
    customer: ref.scope.customer,
    agent: ref.scope.agent,
    ...(ref.scope.key ? { key_id: ref.scope.key } : {}),
    source: ref.scope.source,
    unit: ref.unit,
    period: ref.period,
    limit: displayLimit(ref, s.limit),
    used: round(counterToUnit(ref, s.spent)),
    remaining: round(counterToUnit(ref, remaining)),
    resets_at: neverResets(ref.period) ? null : new Date(w.end).toISOString(),
  };
}

const round = (n: number) => Math.round(n * 1e9) / 1e9;

const PERIOD_WORD: Record<string, string> = { day: 'daily', week: 'weekly', month: 'monthly', quarter: 'quarterly', year: 'yearly', total: 'total', prepaid: 'prepaid' };

export function refusalMessage(s: RefusalScope): string {
  const who = s.key_id ? `key "${s.key_id}" of customer "${s.customer}"` : s.agent ? `agent "${s.agent}" of customer "${s.customer}"` : `customer "${s.customer}"`;
  const what = s.unit === 'tokens' || s.unit === 'requests' ? `${s.limit} ${s.unit}` : `${s.limit} ${s.unit}`;
  const resets = s.resets_at ? `; it resets at ${s.resets_at}` : '';
  if (s.period === 'prepaid') return `wallet balance too low: ${who} has ${s.remaining} ${s.unit} of prepaid credit left (${s.used} of ${s.limit} ${s.unit} credited used), not enough for this call; top up the wallet`;
  return `budget exceeded: ${who} has used ${s.used} of its ${PERIOD_WORD[s.period]} ${s.source} budget of ${what} (${s.remaining} remaining, not enough for this call)${resets}`;
}

/** The enforcing budget with the least room left relative to its limit: remaining in its unit, for x-tollgate-budget-remaining. */
export function tightestRemaining(refs: readonly BudgetRef[], table: BudgetTable): { value: number; unit: string } | undefined {
  // Every allowed call answers with this: the best so far is kept in locals, one object made for the result only.
  let best: BudgetRef | undefined;
  let bestFrac = 0;
  let bestRemaining = 0n;
  for (const ref of refs) {
    if (ref.enforce === false) continue; // a shadow budget never stops a call: its room is no news to the client
    const limit = table.limit(ref.slot);
    const remaining = table.roomUnderLimit(ref.slot);
    const frac = limit > 0n ? Number(remaining) / Number(limit) : 0;
    if (!best || frac < bestFrac) {
      best = ref;
      bestFrac = frac;
      bestRemaining = remaining;
    }
  }
  return best && { value: round(counterToUnit(best, bestRemaining)), unit: best.unit };
}
