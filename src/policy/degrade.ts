import type { BudgetRef } from '../budget/budget-ref.js';
import type { BudgetTable } from '../budget/budget-table.js';
import type { PeriodClock } from '../budget/periods.js';

/**
 * The model calls in this scope should degrade to, if any budget's spend
 * (settled + reserved) in the period containing `now` has reached a
 * `degrade` threshold. With several, the highest threshold reached wins (it
 * is the one meant for tighter times).
 *
 * Shadow budgets (enforce: false) are skipped.
 *
 * Each slot is rolled to the current period before it is read: this runs
 * before the reservation (which would roll it too), so without it the first
 * call of a new period would be judged on the last period's spend.
 */
export function degradeTarget(table: BudgetTable, refs: readonly BudgetRef[], clock: PeriodClock, now: number): { model: string; ref: BudgetRef; at: number } | undefined {
  let best: { model: string; ref: BudgetRef; at: number } | undefined;
  for (const ref of refs) {
    // A shadow budget only watches: its degrade thresholds notify but never change the model.
    if (!ref.thresholds.length || ref.enforce === false || !hasDegrade(ref)) continue;
    table.rollover(ref.slot, clock.window(ref.period, now, ref.timeZone).start);
    const s = table.read(ref.slot);
    if (s.limit <= 0n) continue;
    const used = Number(s.committed) / Number(s.limit);
    for (const t of ref.thresholds) {
      if (t.action === 'degrade' && t.model && used >= t.at && (!best || t.at > best.at)) best = { model: t.model, ref, at: t.at };
    }
  }
  return best;
}

/** Only degrade thresholds matter here: a budget with warn or block ones alone is not read (or rolled: the reservation does that). */
function hasDegrade(ref: BudgetRef): boolean {
  for (const t of ref.thresholds) if (t.action === 'degrade' && t.model) return true;
  return false;
}
