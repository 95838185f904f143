import type { BudgetTable } from './budget-table.js';
import { releaseHolds, settleHolds, type Hold } from './decide.js';
import type { CallAmounts } from './budget-ref.js';
import { releaseSessionHold, settleSessionHold, type SessionHold } from './session-budgets.js';
import { LinkedList } from '../collections/linked-list.js';

// A shard's open reservations. Settle and release are idempotent per
// reservation; one never settled is released when its TTL passes, so a stuck
// call or a lost answer cannot hold budget forever.

type State = 'held' | 'expired' | 'settled' | 'released';

export class Reservation {
  state: State = 'held';
  /** The book's list of open reservations runs through them (see ReservationBook). */
  prev: Reservation | undefined = undefined;
  next: Reservation | undefined = undefined;
  listed = false;
  /** `session`: the hold on the call's session budgets, settled and released with the others. */
  constructor(readonly id: string, readonly holds: Hold[], readonly expiresAt: number, readonly session?: SessionHold) {}
}

/** The open reservations, as a list through the reservations themselves (collections/linked-list.ts): only the sweep walks it. */
export class ReservationBook {
  readonly #list = new LinkedList<Reservation>();

  constructor(private readonly table: BudgetTable, private readonly shard: number, private readonly ttlMs: number) {}

  open(id: string, holds: Hold[], now: number, session?: SessionHold): Reservation {
    const r = new Reservation(id, holds, now + this.ttlMs, session);
    this.#list.push(r);
    return r;
  }

  /** Charges the actual amounts. Returns false if it was already settled or released. */
  settle(r: Reservation, actual: CallAmounts, now = Date.now()): boolean {
    if (r.state === 'settled' || r.state === 'released') return false;
    settleHolds(this.table, r.holds, actual, this.shard, r.state === 'expired');
    if (r.session) settleSessionHold(r.session, actual, r.state === 'expired', now);
    r.state = 'settled';
    this.#list.remove(r);
    return true;
  }

  release(r: Reservation, now = Date.now()): boolean {
    if (r.state !== 'held' && r.state !== 'expired') return false;
    if (r.state === 'held') {
      releaseHolds(this.table, r.holds, this.shard);
      if (r.session) releaseSessionHold(r.session, now);
    }
    r.state = 'released';
    this.#list.remove(r);
    return true;
  }

  /** Releases holds past their TTL. They stay settleable: a late settle charges the actual amount. */
  sweep(now: number): number {
    let n = 0;
    for (let r = this.#list.first; r; ) {
      const next = r.next;
      if (r.state === 'held' && r.expiresAt <= now) {
        releaseHolds(this.table, r.holds, this.shard);
        if (r.session) releaseSessionHold(r.session, now);
        r.state = 'expired';
        n++;
      }
      if (r.state === 'expired' && r.expiresAt + this.ttlMs <= now) this.#list.remove(r);
      r = next;
    }
    return n;
  }

  get size(): number {
    return this.#list.size;
  }
}
