import type { BudgetTable } from '../budget/budget-table.js';
import type { LeaseClock } from './lease-clock.js';
import { shareRoom, shortfallNeed, stillExhausted, type ShortfallVerdict } from './lease-policy.js';
import type { LeaseReply } from './lease-script.js';
import type { Lease, Waiter } from './lease-state.js';
import type { LeaseStats } from './lease-stats.js';
import type { LeaseSteps } from './lease-steps.js';
import type { LeaseLink } from './redis-link.js';

// Calls whose lease came up short, waiting per budget. The calls that
// arrive while one Redis step is in flight are served together by the
// next: one script call per batch, however many calls wait, and the room it
// brings is shared in arrival order. "Nothing left" is remembered briefly
// (stillExhausted) while no other node holds budget that could come back.

/** After a recall, how long a budget counts as contended (calls fetch what they need, nobody stocks up). */
export const CONTENDED_MS = 2_000;
/** A call that would fit if other nodes gave back their room waits this long for them, this many times. */
export const RECALL_WAIT_MS = 25;
export const RECALL_TRIES = 4;

export class ShortfallQueue {
  constructor(
    private readonly steps: LeaseSteps,
    private readonly table: BudgetTable,
    private readonly link: Pick<LeaseLink, 'up'>,
    private readonly clock: LeaseClock,
    private readonly stats: LeaseStats,
    private readonly log: (m: string) => void,
  ) {}

  /** Waits for room for `amount` more on this budget (counter units). */
  ask(lease: Lease, amount: bigint): Promise<ShortfallVerdict> {
    return new Promise<ShortfallVerdict>((resolve) => {
      lease.waiters.push({ amount, resolve });
      if (!lease.pumping) void this.#pump(lease);
    });
  }

  /** Serves the calls waiting on one budget, a batch at a time: one Redis step per batch. */
  async #pump(lease: Lease): Promise<void> {
    lease.pumping = true;
    let batch: Waiter[] = [];
    try {
      while (lease.waiters.length) {
        while (lease.busy) await lease.busy; // a step in flight may bring the room
        batch = lease.waiters.splice(0);
        const now = this.clock.now();
        lease.quiet = 0; // refused calls move no counter, but they add blocked rows to report
        this.steps.roll(lease, now);
        const slot = lease.slot;
        const amounts = batch.map((w) => w.amount);
        const { sum, min, max } = shortfallNeed(amounts);
        if (max > lease.callSize) lease.callSize = max;
        let room = this.table.cap(slot) - this.table.committed(slot);
        if (room >= sum) {
          for (const w of batch) w.resolve('retry');
          continue;
        }
        if (!this.link.up) {
          this.#whileDown(lease, batch);
          continue;
        }
        if (stillExhausted(lease.exhausted, now, min, room)) {
          for (const w of batch) w.resolve('exhausted');
          continue;
        }
        try {
          // Ask for all of it; accept any part that serves at least one call; below that, give back what
          // cannot serve it. When other nodes sit on enough room, the script recalls it: ask again shortly.
          let reply: LeaseReply | null = null;
          for (let attempt = 0; ; attempt++) {
            const contended = lease.contendedUntil > this.clock.now();
            let need = 0n;
            reply = await this.steps.sync(lease, 'shortfall', () => {
              const c = this.table.committed(slot);
              need = c + min;
              return { want: c + sum, need, floor: c, grow: !contended, growMin: lease.callSize };
            });
            room = this.table.cap(slot) - this.table.committed(slot);
            if (!reply || room >= min || attempt >= RECALL_TRIES || reply.ceiling + reply.othersRoom < need) break;
            lease.contendedUntil = this.clock.now() + CONTENDED_MS;
            await this.clock.sleep(RECALL_WAIT_MS);
          }
          // Remember "nothing left" only while no other node holds budget that could still come back.
          if (reply && room < min && reply.outstanding === 0n) lease.exhausted = { at: this.clock.now(), free: reply.ceiling - reply.granted };
          else lease.exhausted = null;
        } catch {
          this.#whileDown(lease, batch);
          continue;
        }
        shareRoom(amounts, room).forEach((fits, i) => batch[i]!.resolve(fits ? 'retry' : 'exhausted'));
      }
    } catch (err) {
      // A fault here must not leave calls waiting forever (resolving twice is harmless).
      this.log(`cluster: shortfall failed: ${(err as Error).stack ?? err}`);
      for (const w of [...batch, ...lease.waiters.splice(0)]) w.resolve('unavailable');
    } finally {
      lease.pumping = false;
    }
  }

  #whileDown(lease: Lease, batch: Waiter[]): void {
    if (!this.steps.fallback(lease)) {
      for (const w of batch) w.resolve('unavailable');
      return;
    }
    const room = this.table.cap(lease.slot) - this.table.committed(lease.slot);
    const fits = shareRoom(batch.map((w) => w.amount), room);
    fits.forEach((ok, i) => {
      if (ok) this.stats.counts.open++;
      batch[i]!.resolve(ok ? 'retry' : 'exhausted');
    });
  }
}
