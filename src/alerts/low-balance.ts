import type { BudgetRef } from '../budget/budget-ref.js';
import { counterToUnit } from '../budget/budget-ref.js';
import type { BudgetTable } from '../budget/budget-table.js';
import type { AlertEvent } from './alert-event.js';
import type { Outbox } from './outbox.js';
import { eventId } from './threshold-monitor.js';

// Low-balance alerts of prepaid wallets (`wallet.lowBalance`), in the
// supervisor beside the threshold monitor. A threshold fires once when the
// settled balance (credited − charged; holds in flight are left out so a
// call's estimate cannot make it flap) falls below it, and is re-armed when
// a top-up lifts the balance back to it or above. The armed state and the
// number of crossings live in the outbox, so a restart neither repeats nor
// forgets a crossing; each crossing's alert is deduplicated by its number.

interface LowState { crossings: number; below: boolean }

export class LowBalanceMonitor {
  fired = 0;

  constructor(
    private readonly table: BudgetTable,
    private readonly refs: () => readonly BudgetRef[],
    private readonly outbox: Outbox,
    /** Channels of a threshold that names none. */
    private readonly generalChannels: string[],
  ) {}

  async check(now: number): Promise<void> {
    for (const ref of this.refs()) {
      if (!ref?.wallet?.lowBalance.length) continue;
      const s = this.table.read(ref.slot);
      if (s.limit <= 0n) continue; // never credited: not a crossing, a wallet not yet in use
      const balance = s.limit - s.spent;
      for (const t of ref.wallet.lowBalance) {
        const below = balance < BigInt(Math.round(t.below * 1e9));
        const stateKey = `lowbal|${ref.key}|${t.below}`;
        const st = this.outbox.getState<LowState>(stateKey) ?? { crossings: 0, below: false };
        if (below === st.below) continue;
        if (below) {
          const dedupe = `${stateKey}|${st.crossings + 1}`;
          if (await this.outbox.fire(dedupe, this.#event(ref, t.below, s.limit, s.spent, dedupe, now), t.notify.length ? t.notify : this.generalChannels, now)) this.fired++;
          await this.outbox.setState(stateKey, { crossings: st.crossings + 1, below: true } satisfies LowState);
        } else {
          await this.outbox.setState(stateKey, { crossings: st.crossings, below: false } satisfies LowState);
        }
      }
    }
  }

  #event(ref: BudgetRef, below: number, limit: bigint, spent: bigint, dedupe: string, now: number): AlertEvent {
    const units = (n: bigint) => Math.round(counterToUnit(ref, n) * 1e9) / 1e9;
    return {
      id: eventId(dedupe),
      event: 'low_balance',
      customer: ref.scope.customer,
      agent: null,
      ...(ref.scope.key !== undefined ? { key_id: ref.scope.key } : {}),
      budget: { unit: ref.unit, period: 'prepaid', limit: units(limit), used: units(spent) },
      threshold: below,
      balance: units(limit - spent),
      ...(ref.wallet?.topUpUrl ? { top_up_url: ref.wallet.topUpUrl } : {}),
      at: new Date(now).toISOString(),
    };
  }
}
