import type { Config } from '../config/schema.js';
import type { BudgetTable } from '../budget/budget-table.js';
import { limitToCounter, type BudgetRef } from '../budget/budget-ref.js';
import { PeriodClock } from '../budget/periods.js';
import { scopeBudgets } from '../budget/scope-budgets.js';
import { agentScopeKey, customerScopeKey, type Aggregate } from '../store/aggregates.js';
import type { Ledger } from '../store/ledger.js';
import type { RateWindows } from '../policy/rate-windows.js';
import { scopePolicy, type ResolvedScope } from '../policy/scope-policy.js';

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
  readonly #rateSlots = new Map<string, number>();
  readonly #clock: PeriodClock;
  /** Every allocated budget, by slot: what the alert monitor watches. */
  readonly refs: BudgetRef[] = [];
  #next = 0;

  constructor(private config: Config, private readonly table: BudgetTable, private readonly ledger: Ledger, private readonly windows?: RateWindows) {
    this.#clock = new PeriodClock(config.timezone);
  }

  get used(): number {
    return this.#next;
  }

  /** Budgets, velocity windows and policy of a scope, binding counter slots on first use. */
  resolveScope(customer: string, agent: string | null, now = Date.now()): ResolvedScope {
    const policy = scopePolicy(this.config, customer, agent);
    const rates = policy.rates.map((spec) => {
      let slot = this.#rateSlots.get(spec.key);
      if (slot === undefined) {
        if (!this.windows || this.#rateSlots.size >= this.windows.capacity) {
          throw new SlotsExhaustedError(`velocity window table full (${this.windows?.capacity ?? 0} windows); raise maxBudgetSlots`);
        }
        slot = this.#rateSlots.size;
        this.#rateSlots.set(spec.key, slot);
      }
      return { ...spec, slot };
    });
    return { refs: this.resolve(customer, agent, now), rates, loop: policy.loop, refusal: policy.refusal, clampMaxTokens: policy.clampMaxTokens, resale: policy.resale };
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
        this.refs[slot] = full;
        return full;
      }
      return { ...ref, slot };
    });
  }
}

/** A budget's counter value from a ledger aggregate (this node's calls only). */
export function spentIn(ref: BudgetRef, agg: Aggregate): bigint {
  if (ref.kind === 'tokens') return BigInt(agg.tokens);
  if (ref.kind === 'requests') return BigInt(agg.calls);
  return BigInt(Math.round(agg.billed_nano * ref.rate));
}
