import type { BudgetRef } from '../budget/budget-ref.js';
import { counterToUnit, displayLimit } from '../budget/budget-ref.js';
import type { BudgetTable } from '../budget/budget-table.js';
import { neverResets, type PeriodClock } from '../budget/periods.js';

/** GET /admin/customers/:id body: every budget in scope with its live counters. */
export function customerView(id: string, agent: string | null, refs: readonly BudgetRef[], table: BudgetTable, clock: PeriodClock, now: number) {
  return {
    id,
    agent,
    budgets: refs.map((ref) => {
      table.rollover(ref.slot, clock.window(ref.period, now, ref.timeZone).start);
      const s = table.read(ref.slot);
      const room = s.limit > s.committed ? s.limit - s.committed : 0n;
      return {
        unit: ref.unit,
        period: ref.period,
        time_zone: ref.timeZone,
        enforce: ref.enforce !== false,
        source: ref.scope.source,
        agent: ref.scope.agent,
        limit: displayLimit(ref, s.limit),
        burst: ref.burst,
        used: round(counterToUnit(ref, s.spent)),
        reserved: round(counterToUnit(ref, s.reserved)),
        remaining: round(counterToUnit(ref, room)),
        resets_at: neverResets(ref.period) ? null : new Date(clock.window(ref.period, now, ref.timeZone).end).toISOString(),
        thresholds: ref.thresholds.map((t) => ({ at: t.at, action: t.action, ...(t.model ? { model: t.model } : {}), notify: t.notify, reached: s.limit > 0n && Number(s.committed) >= t.at * Number(s.limit) })),
      };
    }),
  };
}

const round = (n: number) => Math.round(n * 1e9) / 1e9;
