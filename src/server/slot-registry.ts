import type { Config } from '../config/schema.js';
import type { BudgetTable } from '../budget/budget-table.js';
import { limitToCounter, type BudgetRef } from '../budget/budget-ref.js';
import { PeriodClock } from '../budget/periods.js';
import { scopeBudgets } from '../budget/scope-budgets.js';
import { agentScopeKey, customerScopeKey, type Aggregate } from '../store/aggregates.js';
import type { Ledger } from '../store/ledger.js';

export class SlotsExhaustedError extends Error {
  readonly code = 'TG_SLOTS_EXHAUSTED';
}

/**
 * Main-thread owner of the shared budget table: hands each (scope, budget)
 * one counter slot, seeded from the ledger's aggregates for the current
 * period, so counters after a restart equal the ledger.
 */
export class SlotRegistry {
  readonly #slots = new Map<string, number>();
  readonly #clock: PeriodClock;
  #next = 0;

  constructor(private config: Config, private readonly table: BudgetTable, private readonly ledger: Ledger) {
    this.#clock = new PeriodClock(config.timezone);
  }

  get used(): number {
    return this.#next;
  }

  resolve(customer: string, agent: string | null, now = Date.now()): BudgetRef[] {
    return scopeBudgets(this.config, customer, agent).map(({ key, ref }) => {
      let slot = this.#slots.get(key);
      if (slot === undefined) {
        if (this.#next >= this.table.capacity) throw new SlotsExhaustedError(`budget table full (${this.table.capacity} slots); raise maxBudgetSlots`);
        slot = this.#next++;
        const full = { ...ref, slot };
        const w = this.#clock.window(ref.period, now);
        const scopeKey = ref.scope.agent ? agentScopeKey(customer, ref.scope.agent) : customerScopeKey(customer);
        const agg = this.ledger.aggregateAt(scopeKey, ref.period, now);
        const { limit, cap } = limitToCounter(ref);
        this.table.init(slot, { cap, limit, spent: spentIn(full, agg), periodStart: w.start });
        this.#slots.set(key, slot);
        return full;
      }
      return { ...ref, slot };
    });
  }
}

function spentIn(ref: BudgetRef, agg: Aggregate): bigint {
  if (ref.kind === 'tokens') return BigInt(agg.tokens);
  if (ref.kind === 'requests') return BigInt(agg.calls);
  return BigInt(Math.round(agg.billed_nano * ref.rate));
}
