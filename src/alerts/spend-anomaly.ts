import type { BudgetRef } from '../budget/budget-ref.js';
import type { BudgetTable } from '../budget/budget-table.js';

// Burn-rate anomaly: each money budget's spend over the last `window`
// against its trailing `baseline` rate. A spike beyond `factor` (and above a
// minimum amount, so idle scopes do not page anyone) raises one alert per
// scope per baseline period. Pure arithmetic over samples; the supervisor
// feeds it the counters every few seconds.

export interface AnomalyOptions { factor: number; windowMs: number; baselineMs: number; minNano: number }

export interface Spike { ref: BudgetRef; recentNano: number; ratePerHourNano: number; baselinePerHourNano: number }

export class SpendAnomaly {
  readonly #samples = new Map<number, { t: number; total: number }[]>();
  readonly #last = new Map<number, bigint>();
  readonly #totals = new Map<number, number>();
  /** Which budget each slot's history belongs to: a reclaimed slot reused by another scope starts over. */
  readonly #owner = new Map<number, string>();

  constructor(private readonly opts: AnomalyOptions) {}

  /** Records the counters at `now` and returns the budgets spiking now. */
  sample(table: BudgetTable, refs: readonly BudgetRef[], now: number): Spike[] {
    const spikes: Spike[] = [];
    for (const ref of refs) {
      if (!ref || ref.kind !== 'money' || ref.scope.source === 'plan') continue;
      if (this.#owner.get(ref.slot) !== ref.key) {
        this.#owner.set(ref.slot, ref.key);
        this.#last.delete(ref.slot);
        this.#totals.delete(ref.slot);
        this.#samples.delete(ref.slot);
      }
      const spent = table.read(ref.slot).spent;
      const last = this.#last.get(ref.slot);
      this.#last.set(ref.slot, spent);
      // A period rollover resets `spent`: count what was spent since.
      const delta = last === undefined ? 0 : spent >= last ? Number(spent - last) : Number(spent);
      const total = (this.#totals.get(ref.slot) ?? 0) + delta / ref.rate; // nano-USD, monotonic
      this.#totals.set(ref.slot, total);
      let list = this.#samples.get(ref.slot);
      if (!list) this.#samples.set(ref.slot, (list = []));
      list.push({ t: now, total });
      while (list.length > 2 && list[1]!.t <= now - this.opts.baselineMs) list.shift();
      const oldest = list[0]!;
      if (now - oldest.t < this.opts.windowMs * 2) continue; // not enough history for a baseline
      const cut = list.find((x) => x.t >= now - this.opts.windowMs) ?? list[list.length - 1]!;
      const recent = total - cut.total;
      const baselineSpan = cut.t - oldest.t;
      const baseline = cut.total - oldest.total;
      if (recent < this.opts.minNano || baselineSpan <= 0) continue;
      const recentRate = recent / Math.max(1, now - cut.t);
      const baselineRate = baseline / baselineSpan;
      if (recentRate > this.opts.factor * Math.max(baselineRate, 1e-9)) {
        spikes.push({ ref, recentNano: recent, ratePerHourNano: recentRate * 3_600_000, baselinePerHourNano: baselineRate * 3_600_000 });
      }
    }
    return spikes;
  }
}
