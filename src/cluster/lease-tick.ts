import type { BudgetTable } from '../budget/budget-table.js';
import type { Ledger } from '../store/ledger.js';
import { spentIn } from '../store/aggregates.js';
import { tickIntent, type LeaseTiming, type TickIntent } from './lease-policy.js';
import type { LeaseReply } from './lease-script.js';
import { usageSignature, type Lease, type LeaseBook } from './lease-state.js';
import type { LeaseSteps } from './lease-steps.js';
import type { LeaseLink } from './redis-link.js';

// The lease manager's timer (every cluster.flushInterval): for each budget,
// notice what the shards did since the last tick, read this node's settled
// spend from the ledger, stop deciding on a lease that lapsed while Redis
// is away, and send at most one step — top-up, report, renew or return —
// as lease-policy.ts's tickIntent decides. Every step of one tick rides in
// one pipeline (RedisLink batches a turn).

export class LeaseTick {
  constructor(
    private readonly steps: LeaseSteps,
    private readonly book: LeaseBook,
    private readonly table: BudgetTable,
    private readonly ledger: Pick<Ledger, 'aggregate'>,
    private readonly link: Pick<LeaseLink, 'up'>,
    private readonly timing: LeaseTiming,
    /** redisDown: open — keep deciding past the lease's expiry while Redis is away. */
    private readonly open: boolean,
  ) {}

  run(now: number): void {
    const ttl = this.timing.ttlMs;
    for (const lease of this.book.values()) {
      this.steps.roll(lease, now);
      const slot = lease.slot;
      const committed = this.table.committed(slot);
      const spent = this.table.spent(slot);
      const cap = this.table.cap(slot);
      if (committed !== lease.lastCommitted || spent !== lease.lastSpent) {
        lease.lastCommitted = committed;
        lease.lastSpent = spent;
        lease.lastActivity = now;
        lease.quiet = 0;
      } else {
        lease.quiet++;
      }
      // The ledger commits a moment after the slot settles: keep reading it for a few quiet ticks.
      if (lease.quiet < 4 || lease.dirty || now - lease.lastRenew >= ttl / 3) {
        const agg = this.ledger.aggregate(lease.scopeKey, lease.period.key);
        lease.spentAbs = spentIn(lease.ref, agg);
        lease.usageStale = usageSignature(agg) !== lease.mirrored;
      }
      if (lease.spentAbs > lease.published) lease.unreportedSince ||= now;
      else lease.unreportedSince = 0;
      // Redis is away and the lease ran out its TTL: Redis has handed it to the pool, so stop deciding on it.
      if (!this.open && now > lease.heldUntil && cap > committed) this.table.swapCap(slot, cap, committed);
      if (!this.link.up || lease.busy || lease.pumping) continue;
      const intent = tickIntent({
        now, room: cap - committed, committed, granted: lease.granted, published: lease.published, spentAbs: lease.spentAbs,
        lastActivity: lease.lastActivity, lastRenew: lease.lastRenew, lastChunk: lease.lastChunk, callSize: lease.callSize,
        dryUntil: lease.dryUntil, dirty: lease.dirty || lease.usageStale, contended: lease.contendedUntil > now,
      }, this.timing);
      if (intent) void this.#step(lease, intent).catch(() => null);
    }
  }

  #step(lease: Lease, intent: Exclude<TickIntent, null>): Promise<LeaseReply | null> {
    const steps = this.steps;
    switch (intent) {
      case 'return': return steps.sync(lease, 'return', () => steps.lowerToCommitted(lease));
      case 'topup': return steps.sync(lease, 'topup', () => ({ grow: true, growMin: lease.callSize }));
      // After Redis came back empty, ask for the lease held before; the script grants what still fits.
      case 'report': return steps.sync(lease, 'report', () => (lease.dirty ? { want: lease.granted } : {}));
      case 'renew': return steps.sync(lease, 'renew', () => ({}));
    }
  }
}
