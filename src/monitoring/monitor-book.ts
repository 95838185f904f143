import type { BudgetTable } from '../budget/budget-table.js';
import type { CallAmounts } from '../budget/budget-ref.js';
import type { Hold } from '../budget/decide.js';
import type { SessionHold } from '../budget/session-budgets.js';
import { ReservationBook, type Reservation } from '../budget/reservations.js';
import type { Caller } from '../identity/key-directory.js';
import type { RateWindows } from '../policy/rate-windows.js';
import { releaseRates, settleRates, type RateHold } from '../policy/velocity.js';

// One shard's monitoring-mode reservations: budget holds (in a
// ReservationBook of their own, with the monitoring TTL rather than the
// proxied-call TTL) plus the velocity-window holds and who asked. A hold not
// settled or released within the TTL is expired by sweep(): its budget and
// window holds go back; a late event still charges the actual amount.
// Finished entries are remembered for one more TTL so a retried release or
// a late event gets a precise answer.

export type MonitorState = Reservation['state'];

export interface MonitorHold {
  readonly id: string;
  readonly caller: Caller;
  readonly model: string;
  readonly openedAt: number;
  readonly expiresAt: number;
  readonly reservation: Reservation;
  readonly rateHolds: RateHold[];
  ratesOpen: boolean; // window holds not yet settled or returned
  /** A shadow budget would have refused the authorization: the event's row is flagged. */
  shadowExceeded: boolean;
  /** Set when the output held was a forecast (no max_tokens): the model its event's completion is recorded under, for the next holds. */
  readonly forecastModel?: string;
}

export class MonitorBook {
  readonly #book: ReservationBook;
  readonly #holds = new Map<string, MonitorHold>();

  constructor(table: BudgetTable, shard: number, readonly ttlMs: number, private readonly windows: RateWindows) {
    this.#book = new ReservationBook(table, shard, ttlMs);
  }

  open(id: string, caller: Caller, model: string, holds: Hold[], rateHolds: RateHold[], now: number, shadowExceeded = false, session?: SessionHold, forecastModel?: string): MonitorHold {
    const reservation = this.#book.open(id, holds, now, session);
    const h: MonitorHold = { id, caller, model, openedAt: now, expiresAt: reservation.expiresAt, reservation, rateHolds, ratesOpen: rateHolds.length > 0, shadowExceeded, ...(forecastModel ? { forecastModel } : {}) };
    this.#holds.set(id, h);
    return h;
  }

  get(id: string): MonitorHold | undefined {
    return this.#holds.get(id);
  }

  /**
   * Charges the actual amounts against the reservation. Returns the state it
   * was in: 'held' (hold replaced), 'expired' (charged without a hold), or
   * 'settled' / 'released' (nothing done: the caller charges without one).
   */
  settle(h: MonitorHold, actual: CallAmounts, now: number): MonitorState {
    const before = h.reservation.state;
    if (!this.#book.settle(h.reservation, actual, now)) return before;
    if (h.ratesOpen) settleRates(this.windows, h.rateHolds, actual, now);
    else settleRates(this.windows, h.rateHolds.map((r) => ({ ref: r.ref, amount: 0 })), actual, now);
    h.ratesOpen = false;
    return before;
  }

  /** Returns the holds. Returns the state it was in; only 'held' had anything to return. */
  release(h: MonitorHold, now: number): MonitorState {
    const before = h.reservation.state;
    if (this.#book.release(h.reservation, now)) this.#returnRates(h, now);
    return before;
  }

  /** Expires holds past their TTL; forgets finished entries one TTL later. */
  sweep(now: number): number {
    const expired = this.#book.sweep(now);
    for (const h of this.#holds.values()) {
      if (h.reservation.state === 'expired') this.#returnRates(h, now);
      if (h.reservation.state !== 'held' && h.expiresAt + this.ttlMs <= now) this.#holds.delete(h.id);
    }
    return expired;
  }

  #returnRates(h: MonitorHold, now: number): void {
    if (!h.ratesOpen) return;
    releaseRates(this.windows, h.rateHolds, now);
    h.ratesOpen = false;
  }
}
