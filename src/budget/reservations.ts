import type { BudgetTable } from './budget-table.js';
import { releaseHolds, settleHolds, type Hold } from './decide.js';
import type { CallAmounts } from './budget-ref.js';
import { releaseSessionHold, settleSessionHold, type SessionHold } from './session-budgets.js';

// A shard's open reservations. Settle and release are idempotent per
// reservation; one never settled is released when its TTL passes, so a stuck
// call or a lost answer cannot hold budget forever.

type State = 'held' | 'expired' | 'settled' | 'released';

export class Reservation {
  state: State = 'held';
  /** The book's list of open reservations runs through them (see ReservationBook). */
  prev: Reservation | undefined = undefined;
  next: Reservation | undefined = undefined;
  open = false;
  /** `session`: the hold on the call's session budgets, settled and released with the others. */
  constructor(readonly id: string, readonly holds: Hold[], readonly expiresAt: number, readonly session?: SessionHold) {}
}

/**
 * The open reservations, as a list through the reservations themselves: one
 * is added and removed per call, and a Map's add and delete per call left its
 * table to be rebuilt every few dozen calls (deleted entries fill it). Only
 * the sweep walks it.
 */
export class ReservationBook {
  #first: Reservation | undefined;
  #last: Reservation | undefined;
  #size = 0;

  constructor(private readonly table: BudgetTable, private readonly shard: number, private readonly ttlMs: number) {}

  open(id: string, holds: Hold[], now: number, session?: SessionHold): Reservation {
    const r = new Reservation(id, holds, now + this.ttlMs, session);
    r.open = true;
    r.prev = this.#last;
    if (this.#last) this.#last.next = r;
    else this.#first = r;
    this.#last = r;
    this.#size++;
    return r;
  }

  #close(r: Reservation): void {
    if (!r.open) return;
    r.open = false;
    if (r.prev) r.prev.next = r.next;
    else this.#first = r.next;
    if (r.next) r.next.prev = r.prev;
    else this.#last = r.prev;
    r.prev = r.next = undefined;
    this.#size--;
  }

  /** Charges the actual amounts. Returns false if it was already settled or released. */
  settle(r: Reservation, actual: CallAmounts, now = Date.now()): boolean {
    if (r.state === 'settled' || r.state === 'released') return false;
    settleHolds(this.table, r.holds, actual, this.shard, r.state === 'expired');
    if (r.session) settleSessionHold(r.session, actual, r.state === 'expired', now);
    r.state = 'settled';
    this.#close(r);
    return true;
  }

  release(r: Reservation, now = Date.now()): boolean {
    if (r.state !== 'held' && r.state !== 'expired') return false;
    if (r.state === 'held') {
      releaseHolds(this.table, r.holds, this.shard);
      if (r.session) releaseSessionHold(r.session, now);
    }
    r.state = 'released';
    this.#close(r);
    return true;
  }

  /** Releases holds past their TTL. They stay settleable: a late settle charges the actual amount. */
  sweep(now: number): number {
    let n = 0;
    for (let r = this.#first; r; ) {
      const next = r.next;
      if (r.state === 'held' && r.expiresAt <= now) {
        releaseHolds(this.table, r.holds, this.shard);
        if (r.session) releaseSessionHold(r.session, now);
        r.state = 'expired';
        n++;
      }
      if (r.state === 'expired' && r.expiresAt + this.ttlMs <= now) this.#close(r);
      r = next;
    }
    return n;
  }

  get size(): number {
    return this.#size;
  }
}
