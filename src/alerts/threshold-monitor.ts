import { createHash } from 'node:crypto';
import type { BudgetRef } from '../budget/budget-ref.js';
import { counterToUnit } from '../budget/budget-ref.js';
import type { BudgetTable } from '../budget/budget-table.js';
import { PeriodClock, periodKey } from '../budget/periods.js';
import type { AlertEvent } from './alert-event.js';
import type { Outbox } from './outbox.js';

// Watches every budget that has thresholds, in the supervisor only, so a
// crossing is seen once however many shards and calls caused it. Crossings
// are deduplicated per (budget, threshold, period) in the outbox; when a reset
// or a raised limit brings the budget back under a crossed threshold, a
// threshold_resolved follows.

// Spend that merely drops back when holds settle below their estimates is not
// a resolution: only a new period or a raised limit is.
interface CrossState { period: string; resolved: boolean; limit: string }

export class ThresholdMonitor {
  readonly #clock: PeriodClock;
  #timer: NodeJS.Timeout | undefined;
  fired = 0;

  constructor(
    timeZone: string,
    private readonly table: BudgetTable,
    private readonly refs: () => readonly BudgetRef[],
    private readonly outbox: Outbox,
  ) {
    this.#clock = new PeriodClock(timeZone);
  }

  /** `onError`: a check whose outbox write failed (disk full) is logged and simply runs again next tick. */
  start(intervalMs = 100, onError: (err: unknown) => void = () => {}): void {
    this.#timer = setInterval(() => this.check(Date.now()).catch(onError), intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
  }

  async check(now: number): Promise<void> {
    const work: Promise<unknown>[] = [];
    for (const ref of this.refs()) {
      if (!ref || !ref.thresholds.length) continue;
      const w = this.#clock.window(ref.period, now, ref.timeZone);
      this.table.rollover(ref.slot, w.start);
      const s = this.table.read(ref.slot);
      if (s.limit <= 0n) continue;
      const used = Number(s.committed) / Number(s.limit);
      const period = periodKey(ref.period, w, ref.timeZone);
      for (const t of ref.thresholds) {
        const stateKey = `${ref.key}|${t.at}`;
        if (used >= t.at) {
          if (!this.outbox.hasFired(`${stateKey}|${period}|crossed`)) work.push(this.#crossed(ref, t, period, s.spent, now));
        } else {
          const st = this.outbox.getState<CrossState>(stateKey);
          if (st && !st.resolved && (st.period !== period || BigInt(st.limit) < s.limit)) work.push(this.#resolved(ref, t, st, s.spent, now));
        }
      }
    }
    await Promise.all(work);
  }

  /** A call was refused on this budget: a `block` threshold notifies now if it has not yet. */
  async refused(ref: BudgetRef, now: number): Promise<void> {
    const w = this.#clock.window(ref.period, now, ref.timeZone);
    const period = periodKey(ref.period, w, ref.timeZone);
    const s = this.table.read(ref.slot);
    for (const t of ref.thresholds) {
      if (t.action === 'block' && !this.outbox.hasFired(`${ref.key}|${t.at}|${period}|crossed`)) await this.#crossed(ref, t, period, s.spent, now);
    }
  }

  async #crossed(ref: BudgetRef, t: BudgetRef['thresholds'][number], period: string, spent: bigint, now: number) {
    const stateKey = `${ref.key}|${t.at}`;
    const dedupe = `${stateKey}|${period}|crossed`;
    const event = this.#event(ref, 'threshold_crossed', t, spent, dedupe, now);
    if (await this.outbox.fire(dedupe, event, t.notify, now)) {
      this.fired++;
      await this.outbox.setState(stateKey, { period, resolved: false, limit: String(this.table.read(ref.slot).limit) } satisfies CrossState);
    }
  }

  async #resolved(ref: BudgetRef, t: BudgetRef['thresholds'][number], st: CrossState, spent: bigint, now: number) {
    const stateKey = `${ref.key}|${t.at}`;
    const dedupe = `${stateKey}|${st.period}|resolved`;
    await this.outbox.fire(dedupe, this.#event(ref, 'threshold_resolved', t, spent, dedupe, now), t.notify, now);
    await this.outbox.setState(stateKey, { ...st, resolved: true } satisfies CrossState);
  }

  #event(ref: BudgetRef, kind: AlertEvent['event'], t: BudgetRef['thresholds'][number], spent: bigint, dedupe: string, now: number): AlertEvent {
    return {
      id: eventId(dedupe),
      event: kind,
      customer: ref.scope.customer,
      agent: ref.scope.agent,
      ...(ref.scope.key !== undefined ? { key_id: ref.scope.key } : {}),
      budget: { unit: ref.unit, period: ref.period, limit: ref.limit, used: Math.round(counterToUnit(ref, spent) * 1e9) / 1e9 },
      threshold: t.at,
      action: t.action,
      at: new Date(now).toISOString(),
    };
  }
}

export function eventId(dedupeKey: string): string {
  return 'evt_' + createHash('sha256').update(dedupeKey).digest('hex').slice(0, 24);
}
