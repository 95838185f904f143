import type { BudgetTable } from '../budget/budget-table.js';
import type { BudgetRef } from '../budget/budget-ref.js';
import { PeriodClock, neverResets } from '../budget/periods.js';
import { aggregatePeriodKey, type Aggregate } from '../store/aggregates.js';
import type { Ledger } from '../store/ledger.js';
import { spentIn } from '../store/aggregates.js';
import type { LeaseClock } from './lease-clock.js';
import type { LeaseReply } from './lease-script.js';
import { startPeriod, usageSignature, type Lease, type LeaseBook, type Period } from './lease-state.js';
import type { LeaseStats, OpKind } from './lease-stats.js';
import { budgetKey, usageKey } from './redis-keys.js';
import type { LeaseLink } from './redis-link.js';

// One lease step on one budget: build the request from the slot and the
// ledger, send it (batched by the link with everything else this turn),
// and apply the reply to the slot's cap. Steps are serialised per budget,
// so a reply always belongs to the latest step sent and the cap it sets is
// never stale. Also the moves every caller shares: the first acquire, a
// period roll-over, lowering the cap before a return, the redisDown: open
// fallback.

export interface Step { want?: bigint; floor?: bigint; need?: bigint; grow?: boolean; growMin?: bigint }

export interface StepSettings {
  nodeId: string;
  ttlMs: number;
  /** redisDown: open — decide on local accounting when Redis is unreachable. */
  open: boolean;
  /** leaseFraction in parts per million. */
  growPpm: number;
  keyPrefix: string;
  timeZone: string;
}

const DAY = 86_400_000;

export class LeaseSteps {
  readonly #clock: PeriodClock;

  constructor(
    readonly settings: StepSettings,
    private readonly table: BudgetTable,
    private readonly ledger: Pick<Ledger, 'aggregate'>,
    private readonly link: LeaseLink,
    private readonly clock: LeaseClock,
    private readonly book: LeaseBook,
    private readonly stats: LeaseStats,
  ) {
    this.#clock = new PeriodClock(settings.timeZone);
  }

  get recallChannel(): string {
    return `${this.settings.keyPrefix}recall`;
  }

  key(lease: Lease, period: Period): string {
    return budgetKey(this.settings.keyPrefix, lease.ref, period.key);
  }

  periodAt(ref: BudgetRef, now: number): Period {
    const w = this.#clock.window(ref.period, now, ref.timeZone);
    return { start: w.start, end: w.end, key: aggregatePeriodKey(ref.period, w, ref.timeZone, this.#clock.timeZone) };
  }

  /** This node's settled spend on the budget in `period`, from its own ledger. */
  spentAbs(lease: Lease, period: Period): bigint {
    return spentIn(lease.ref, this.ledger.aggregate(lease.scopeKey, period.key));
  }

  async acquire(lease: Lease): Promise<void> {
    try {
      if (!this.link.up) throw new Error('redis unreachable');
      await this.sync(lease, 'acquire', () => ({ grow: true }));
    } catch {
      this.fallback(lease);
    }
  }

  /** Redis unreachable: under redisDown open the node decides on its own accounting, up to the whole remaining budget. */
  fallback(lease: Lease): boolean {
    if (!this.settings.open) return false;
    const own = lease.cap - lease.othersSpent;
    const cur = this.table.cap(lease.slot);
    if (own > cur) this.table.swapCap(lease.slot, cur, own);
    return true;
  }

  /** Moves the lease into the current period when one ended: the old period's spend is reported and its lease handed back. */
  roll(lease: Lease, now: number): void {
    const at = Math.max(now, this.table.periodStart(lease.slot));
    if (this.#clock.window(lease.ref.period, at, lease.ref.timeZone).start === lease.period.start) return;
    this.table.rollover(lease.slot, this.#clock.window(lease.ref.period, at, lease.ref.timeZone).start);
    const old = lease.period;
    void this.sync(lease, 'final', () => ({ want: 0n, floor: 0n }), old).catch(() => null);
    const next = this.periodAt(lease.ref, at);
    this.book.rekey(lease, this.key(lease, old), this.key(lease, next));
    startPeriod(lease, next);
    lease.ready = this.acquire(lease);
  }

  /** Before a return: nothing more may be committed against what goes back. */
  lowerToCommitted(lease: Lease): Step {
    const cur = this.table.cap(lease.slot);
    const c = this.table.committed(lease.slot);
    if (cur > c) this.table.swapCap(lease.slot, cur, c);
    const floor = this.table.committed(lease.slot);
    return { want: floor, floor };
  }

  /**
   * One lease step, serialised per budget: a reply always belongs to the
   * latest step sent, so the cap it sets is never stale.
   */
  async sync(lease: Lease, kind: OpKind, build: () => Step | null, period: Period = lease.period): Promise<LeaseReply | null> {
    while (lease.busy) await lease.busy;
    if (kind !== 'final' && period !== lease.period) return null; // a new period began meanwhile
    const step = build();
    if (!step) return null;
    let release!: () => void;
    lease.busy = new Promise<void>((r) => (release = r));
    this.stats.ops[kind]++;
    const sentAt = this.clock.now();
    const before = lease.granted;
    try {
      const spent = this.spentAbs(lease, period);
      if (kind !== 'shortfall' && kind !== 'acquire' && kind !== 'topup') this.#mirrorUsage(lease, period);
      const reply = await this.link.lease(this.key(lease, period), {
        node: this.settings.nodeId,
        cap: lease.ref.wallet ? -1n : lease.cap,
        ttlMs: this.settings.ttlMs,
        spent,
        want: step.want ?? -1n,
        floor: step.floor ?? this.table.committed(lease.slot),
        need: step.need ?? -1n,
        growPpm: step.grow ? this.settings.growPpm : 0,
        growMin: step.growMin ?? 0n,
        expireAt: neverResets(lease.ref.period) ? 0 : period.end + DAY,
        recall: this.recallChannel,
      });
      if (period === lease.period) {
        this.#apply(lease, reply, sentAt, spent);
        if (step.grow) {
          if (reply.granted > before) lease.lastChunk = reply.granted - before;
          else if (kind === 'topup') lease.dryUntil = sentAt + 1_000;
        }
      }
      return reply;
    } finally {
      lease.busy = null;
      release();
    }
  }

  #apply(lease: Lease, reply: LeaseReply, sentAt: number, spent: bigint): void {
    const slot = lease.slot;
    const start = lease.period.start;
    lease.granted = reply.granted;
    lease.published = reply.mine;
    if (lease.ref.wallet) {
      // What was credited, cluster-wide: the wallet's cap and its limit to show.
      lease.cap = lease.limit = reply.cap;
      this.table.setNominalLimit(slot, reply.cap);
    }
    lease.othersSpent = reply.spentTotal - reply.mine;
    if (reply.mine >= spent) lease.dirty = false;
    lease.heldUntil = sentAt + this.settings.ttlMs;
    lease.lastRenew = sentAt;
    if (this.table.periodStart(slot) !== start) return; // a shard rolled the slot over: roll() takes it from here
    this.table.setBase(slot, lease.othersSpent);
    const cur = this.table.cap(slot);
    if (cur !== reply.granted && this.table.swapCap(slot, cur, reply.granted) && this.table.periodStart(slot) !== start) {
      this.table.swapCap(slot, reply.granted, 0n);
    }
    if (this.table.periodStart(slot) !== start) this.table.setBase(slot, 0n);
  }

  /** This node's usage counters for the scope, beside the lease (absolute values: a replay changes nothing). */
  #mirrorUsage(lease: Lease, period: Period): void {
    const agg: Aggregate = this.ledger.aggregate(lease.scopeKey, period.key);
    const key = usageKey(this.settings.keyPrefix, lease.scopeKey, period.key);
    const n = this.settings.nodeId;
    const expireAt = neverResets(lease.ref.period) ? 0 : period.end + DAY;
    if (period === lease.period) {
      lease.mirrored = usageSignature(agg);
      lease.usageStale = false;
    }
    this.link.write((p) => {
      p.hset(key, { [`${n}:calls`]: agg.calls, [`${n}:blocked`]: agg.blocked, [`${n}:tokens`]: agg.tokens, [`${n}:cost_nano`]: agg.cost_nano, [`${n}:billed_nano`]: agg.billed_nano });
      if (expireAt) p.pexpireat(key, expireAt);
    });
  }
}
