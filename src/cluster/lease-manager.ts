import hdr from 'hdr-histogram-js';
import type { Config } from '../config/schema.js';
import type { BudgetTable } from '../budget/budget-table.js';
import { limitToCounter, type BudgetRef } from '../budget/budget-ref.js';
import { PeriodClock, periodKey } from '../budget/periods.js';
import { agentScopeKey, customerScopeKey, type Aggregate } from '../store/aggregates.js';
import type { Ledger } from '../store/ledger.js';
import { spentIn } from '../server/slot-registry.js';
import type { MainToShard, ShardToMain } from '../server/messages.js';
import type { ClusterCounters } from './cluster-stats.js';
import type { LeaseReply } from './lease-script.js';
import {
  combineVerdicts, shareRoom, shortfallNeed, stillExhausted, tickIntent,
  type Exhausted, type ShortfallVerdict, type TickIntent,
} from './lease-policy.js';
import { nodeIdFor } from './node-id.js';
import { budgetKey, usageKey } from './redis-keys.js';
import { RedisLink, redact } from './redis-link.js';

// Main-thread half of cluster mode. For every budget slot this node uses it
// holds a lease from Redis, and the slot's cap in the shared table IS that
// lease: shards decide against it in memory exactly as on a single node.
// Redis is awaited on a call's path only when a shard finds the lease short
// (`shortfall`); everything else — top-ups below the low-water mark, spend
// reports, renewals, returns — happens on a timer, in one pipeline per tick.
//
// Table slots in cluster mode count this node only (cap = lease, committed =
// this node's holds + spend); the other nodes' spend sits in the slot's base
// for reports. Invariant: the local cap never exceeds what Redis granted, so
// the global cap holds whatever the shards do between two ticks.

type OpKind = keyof ClusterCounters['lease_ops'];

interface Period { start: number; end: number; key: string }

interface Waiter { amount: bigint; resolve: (v: ShortfallVerdict) => void }

interface Lease {
  ref: BudgetRef;
  slot: number;
  scopeKey: string;
  cap: bigint;              // the budget's global hard cap
  limit: bigint;
  period: Period;
  granted: bigint;          // Redis's g for this node, this period
  published: bigint;        // Redis's s for this node
  othersSpent: bigint;      // other nodes' settled spend, last heard
  spentAbs: bigint;         // this node's settled spend from its ledger, last read
  unreportedSince: number;  // since when spentAbs differs from published (0: it does not)
  heldUntil: number;        // local time the lease is good until without a renewal
  lastRenew: number;
  lastChunk: bigint;
  callSize: bigint;
  dryUntil: number;
  exhausted: Exhausted | null;
  lastCommitted: bigint;
  lastSpent: bigint;
  lastActivity: number;
  quiet: number;            // ticks without a change in the slot
  mirrored: string;         // the usage counters Redis was last sent (see #mirrorUsage)
  usageStale: boolean;      // the ledger's counters moved since (blocked calls move no budget)
  dirty: boolean;
  contendedUntil: number;   // another node's call did not fit lately: no growth, no top-ups
  busy: Promise<void> | null;
  waiters: Waiter[];
  pumping: boolean;
  ready: Promise<void>;
}

interface Step { want?: bigint; floor?: bigint; need?: bigint; grow?: boolean; growMin?: bigint }

const DAY = 86_400_000;
const usageSignature = (a: Aggregate) => `${a.calls}/${a.blocked}/${a.tokens}/${a.billed_nano}/${a.cost_nano}`;
/** After a recall, how long a budget counts as contended (calls fetch what they need, nobody stocks up). */
const CONTENDED_MS = 2_000;
/** A call that would fit if other nodes gave back their room waits this long for them, this many times. */
const RECALL_WAIT_MS = 25;
const RECALL_TRIES = 4;

export class LeaseManager {
  readonly nodeId: string;
  readonly #link: RedisLink;
  readonly #leases = new Map<number, Lease>();
  /** Current-period Redis key → lease, for recalls. */
  readonly #byKey = new Map<string, Lease>();
  readonly #clock: PeriodClock;
  readonly #ttl: number;
  readonly #open: boolean;
  readonly #ppm: number;
  readonly #prefix: string;
  readonly #waits = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  readonly #ops: ClusterCounters['lease_ops'] = { acquire: 0, topup: 0, shortfall: 0, return: 0, report: 0, renew: 0, final: 0 };
  readonly #counts = { shortfalls: 0, granted: 0, exhausted: 0, unavailable: 0, open: 0 };
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  private constructor(
    private readonly config: Config,
    private readonly table: BudgetTable,
    private readonly ledger: Ledger,
    private readonly log: (m: string) => void,
  ) {
    const c = config.cluster;
    this.nodeId = nodeIdFor(config.dataDir, c.nodeId);
    this.#clock = new PeriodClock(config.timezone);
    this.#ttl = c.leaseTtl;
    this.#open = c.redisDown === 'open';
    this.#ppm = Math.round(c.leaseFraction * 1e6);
    this.#prefix = c.keyPrefix;
    this.#link = new RedisLink(config.redis!, c.redisTimeout, log);
    // Redis may have restarted empty: every budget says everything again.
    this.#link.onUp = () => {
      for (const l of this.#leases.values()) l.dirty = true;
    };
    this.#link.listen(this.#recallChannel, (key) => this.#onRecall(key));
  }

  static async start(config: Config, table: BudgetTable, ledger: Ledger, log: (m: string) => void): Promise<LeaseManager> {
    const m = new LeaseManager(config, table, ledger, log);
    const up = await m.#link.connect(Math.max(2_000, config.cluster.redisTimeout));
    if (!up) {
      log(`cluster: redis ${redact(config.redis!)} unreachable at start; ` + (m.#open
        ? 'deciding on local accounting until it is (redisDown: open)'
        : 'budgeted calls are refused with 503 budget_unavailable until it is (redisDown: closed)'));
    }
    m.#timer = setInterval(() => m.#tick(), config.cluster.flushInterval);
    m.#timer.unref();
    log(`cluster: node ${m.nodeId}, leases from ${redact(config.redis!)} (ttl ${config.cluster.leaseTtl} ms, redisDown ${config.cluster.redisDown})`);
    return m;
  }

  /**
   * Takes the slots of a freshly resolved scope under lease. A new slot's cap
   * drops to 0 before any shard can see it, then the first lease (and the
   * other nodes' spend) comes from Redis; the scope is handed to the shard
   * once that answered or failed.
   */
  adopt(refs: readonly BudgetRef[]): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const ref of refs) {
      let lease = this.#leases.get(ref.slot);
      if (!lease) {
        lease = this.#create(ref);
        this.#leases.set(ref.slot, lease);
        this.#byKey.set(this.#key(lease, lease.period), lease);
        this.table.setLimit(ref.slot, 0n, lease.limit);
        lease.ready = this.#acquire(lease);
      }
      waits.push(lease.ready);
    }
    return Promise.all(waits).then(() => undefined);
  }

  /** Handles the cluster messages of a shard; false for any other message. */
  onMessage(m: ShardToMain, post: (m: MainToShard) => void): boolean {
    if (m.t === 'shortfall') {
      const t0 = performance.now();
      void this.shortfall(m.needs).then((verdict) => {
        this.#waits.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
        post({ t: 'shortfall-answer', id: m.id, verdict });
      });
      return true;
    }
    if (m.t === 'cluster-stats') {
      post({ t: 'cluster-stats-answer', id: m.id, counters: this.snapshot() });
      return true;
    }
    return false;
  }

  /** A shard's call found these leases short by these amounts (counter units, the call's whole estimate). */
  async shortfall(needs: readonly { slot: number; amount: bigint }[]): Promise<ShortfallVerdict> {
    this.#counts.shortfalls++;
    const verdicts = await Promise.all(needs.map(({ slot, amount }) => {
      const lease = this.#leases.get(slot);
      if (!lease) return 'exhausted' as const;
      return new Promise<ShortfallVerdict>((resolve) => {
        lease.waiters.push({ amount, resolve });
        if (!lease.pumping) void this.#pump(lease);
      });
    }));
    const v = combineVerdicts(verdicts);
    if (v === 'retry') this.#counts.granted++;
    else if (v === 'exhausted') this.#counts.exhausted++;
    else this.#counts.unavailable++;
    return v;
  }

  /** Hands every unused lease back and reports the final spend. Call after the shards have drained. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#link.up) {
      const now = Date.now();
      const returns = [...this.#leases.values()].map((lease) => {
        this.#roll(lease, now);
        return this.#sync(lease, 'return', () => this.#lowerToCommitted(lease)).catch(() => null);
      });
      const timeout = new Promise((r) => setTimeout(r, 2 * this.config.cluster.redisTimeout).unref());
      await Promise.race([Promise.all(returns), timeout]);
    } else if (this.#leases.size) {
      this.log(`cluster: redis unreachable at shutdown; this node's leases lapse within ${this.#ttl} ms`);
    }
    await this.#link.quit();
  }

  snapshot(): ClusterCounters {
    const now = Date.now();
    let backlog = 0;
    let oldest = 0;
    for (const l of this.#leases.values()) {
      if (l.dirty || l.spentAbs > l.published) {
        backlog++;
        if (l.unreportedSince && (!oldest || l.unreportedSince < oldest)) oldest = l.unreportedSince;
      }
    }
    const w = this.#waits;
    return {
      node_id: this.nodeId,
      redis: redact(this.config.redis!),
      redis_up: this.#link.up,
      redis_down_since: this.#link.downSince && !this.#link.up ? new Date(this.#link.downSince).toISOString() : null,
      redis_last_error: this.#link.lastError,
      redis_down_policy: this.config.cluster.redisDown,
      lease_ttl_ms: this.#ttl,
      budgets_leased: this.#leases.size,
      shortfalls: this.#counts.shortfalls,
      shortfalls_granted: this.#counts.granted,
      shortfalls_exhausted: this.#counts.exhausted,
      shortfalls_unavailable: this.#counts.unavailable,
      shortfalls_open: this.#counts.open,
      shortfall_wait_ms: {
        count: w.totalCount,
        p50: w.getValueAtPercentile(50) / 1000,
        p99: w.getValueAtPercentile(99) / 1000,
        max: w.maxValue / 1000,
      },
      redis_round_trips: this.#link.roundTrips,
      redis_errors: this.#link.errors,
      lease_ops: { ...this.#ops },
      reconcile_backlog: backlog,
      reconcile_backlog_age_ms: oldest ? now - oldest : 0,
    };
  }

  #create(ref: BudgetRef): Lease {
    const { cap, limit } = limitToCounter(ref);
    const now = Date.now();
    return {
      ref, slot: ref.slot, cap, limit,
      scopeKey: ref.scope.agent ? agentScopeKey(ref.scope.customer, ref.scope.agent) : customerScopeKey(ref.scope.customer),
      period: this.#periodAt(ref, now),
      granted: 0n, published: -1n, othersSpent: 0n, spentAbs: 0n, unreportedSince: 0,
      heldUntil: 0, lastRenew: 0, lastChunk: 0n, callSize: 0n, dryUntil: 0, exhausted: null,
      lastCommitted: -1n, lastSpent: -1n, lastActivity: now, quiet: 0, mirrored: '', usageStale: false, dirty: false, contendedUntil: 0,
      busy: null, waiters: [], pumping: false, ready: Promise.resolve(),
    };
  }

  #key(lease: Lease, period: Period): string {
    return budgetKey(this.#prefix, lease.ref, period.key);
  }

  get #recallChannel(): string {
    return `${this.#prefix}recall`;
  }

  /**
   * Another node has a call that fits only if the room other nodes sit on
   * comes back: give back this node's, and stop stocking up for a while, so
   * the budget pools where the calls are.
   */
  #onRecall(key: string): void {
    const lease = this.#byKey.get(key);
    if (!lease || this.#closed) return;
    lease.contendedUntil = Date.now() + CONTENDED_MS;
    if (this.table.cap(lease.slot) > this.table.committed(lease.slot)) {
      void this.#sync(lease, 'return', () => this.#lowerToCommitted(lease)).catch(() => null);
    }
  }

  #periodAt(ref: BudgetRef, now: number): Period {
    const w = this.#clock.window(ref.period, now);
    return { start: w.start, end: w.end, key: periodKey(ref.period, w, this.#clock.timeZone) };
  }

  #spentAbs(lease: Lease, period: Period): bigint {
    return spentIn(lease.ref, this.ledger.aggregate(lease.scopeKey, period.key));
  }

  async #acquire(lease: Lease): Promise<void> {
    try {
      if (!this.#link.up) throw new Error('redis unreachable');
      await this.#sync(lease, 'acquire', () => ({ grow: true }));
    } catch {
      this.#fallback(lease);
    }
  }

  /** Redis unreachable: under redisDown open the node decides on its own accounting, up to the whole remaining budget. */
  #fallback(lease: Lease): boolean {
    if (!this.#open) return false;
    const own = lease.cap - lease.othersSpent;
    const cur = this.table.cap(lease.slot);
    if (own > cur) this.table.swapCap(lease.slot, cur, own);
    return true;
  }

  /** Moves the lease into the current period when one ended: the old period's spend is reported and its lease handed back. */
  #roll(lease: Lease, now: number): void {
    const at = Math.max(now, this.table.periodStart(lease.slot));
    if (this.#clock.window(lease.ref.period, at).start === lease.period.start) return;
    this.table.rollover(lease.slot, this.#clock.window(lease.ref.period, at).start);
    const old = lease.period;
    void this.#sync(lease, 'final', () => ({ want: 0n, floor: 0n }), old).catch(() => null);
    this.#byKey.delete(this.#key(lease, old));
    lease.period = this.#periodAt(lease.ref, at);
    this.#byKey.set(this.#key(lease, lease.period), lease);
    Object.assign(lease, { granted: 0n, published: -1n, othersSpent: 0n, spentAbs: 0n, unreportedSince: 0, heldUntil: 0, lastChunk: 0n, dryUntil: 0, exhausted: null });
    lease.ready = this.#acquire(lease);
  }

  /** Before a return: nothing more may be committed against what goes back. */
  #lowerToCommitted(lease: Lease): Step {
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
  async #sync(lease: Lease, kind: OpKind, build: () => Step | null, period: Period = lease.period): Promise<LeaseReply | null> {
    while (lease.busy) await lease.busy;
    if (kind !== 'final' && period !== lease.period) return null; // a new period began meanwhile
    const step = build();
    if (!step) return null;
    let release!: () => void;
    lease.busy = new Promise<void>((r) => (release = r));
    this.#ops[kind]++;
    const sentAt = Date.now();
    const before = lease.granted;
    try {
      const spent = this.#spentAbs(lease, period);
      if (kind !== 'shortfall' && kind !== 'acquire' && kind !== 'topup') this.#mirrorUsage(lease, period);
      const reply = await this.#link.lease(this.#key(lease, period), {
        node: this.nodeId,
        cap: lease.cap,
        ttlMs: this.#ttl,
        spent,
        want: step.want ?? -1n,
        floor: step.floor ?? this.table.committed(lease.slot),
        need: step.need ?? -1n,
        growPpm: step.grow ? this.#ppm : 0,
        growMin: step.growMin ?? 0n,
        expireAt: lease.ref.period === 'total' ? 0 : period.end + DAY,
        recall: this.#recallChannel,
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
    lease.othersSpent = reply.spentTotal - reply.mine;
    if (reply.mine >= spent) lease.dirty = false;
    lease.heldUntil = sentAt + this.#ttl;
    lease.lastRenew = sentAt;
    if (this.table.periodStart(slot) !== start) return; // a shard rolled the slot over: #roll takes it from here
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
    const key = usageKey(this.#prefix, lease.scopeKey, period.key);
    const n = this.nodeId;
    const expireAt = lease.ref.period === 'total' ? 0 : period.end + DAY;
    if (period === lease.period) {
      lease.mirrored = usageSignature(agg);
      lease.usageStale = false;
    }
    this.#link.write((p) => {
      p.hset(key, { [`${n}:calls`]: agg.calls, [`${n}:blocked`]: agg.blocked, [`${n}:tokens`]: agg.tokens, [`${n}:cost_nano`]: agg.cost_nano, [`${n}:billed_nano`]: agg.billed_nano });
      if (expireAt) p.pexpireat(key, expireAt);
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
        const now = Date.now();
        lease.quiet = 0; // refused calls move no counter, but they add blocked rows to report
        this.#roll(lease, now);
        const slot = lease.slot;
        const amounts = batch.map((w) => w.amount);
        const { sum, min, max } = shortfallNeed(amounts);
        if (max > lease.callSize) lease.callSize = max;
        let room = this.table.cap(slot) - this.table.committed(slot);
        if (room >= sum) {
          for (const w of batch) w.resolve('retry');
          continue;
        }
        if (!this.#link.up) {
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
            const contended = lease.contendedUntil > Date.now();
            let need = 0n;
            reply = await this.#sync(lease, 'shortfall', () => {
              const c = this.table.committed(slot);
              need = c + min;
              return { want: c + sum, need, floor: c, grow: !contended, growMin: lease.callSize };
            });
            room = this.table.cap(slot) - this.table.committed(slot);
            if (!reply || room >= min || attempt >= RECALL_TRIES || reply.ceiling + reply.othersRoom < need) break;
            lease.contendedUntil = Date.now() + CONTENDED_MS;
            await new Promise((r) => setTimeout(r, RECALL_WAIT_MS));
          }
          // Remember "nothing left" only while no other node holds budget that could still come back.
          if (reply && room < min && reply.outstanding === 0n) lease.exhausted = { at: Date.now(), free: reply.ceiling - reply.granted };
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
    if (!this.#fallback(lease)) {
      for (const w of batch) w.resolve('unavailable');
      return;
    }
    const room = this.table.cap(lease.slot) - this.table.committed(lease.slot);
    const fits = shareRoom(batch.map((w) => w.amount), room);
    fits.forEach((ok, i) => {
      if (ok) this.#counts.open++;
      batch[i]!.resolve(ok ? 'retry' : 'exhausted');
    });
  }

  #tick(): void {
    const now = Date.now();
    const timing = { ttlMs: this.#ttl, idleReturnMs: this.config.cluster.idleReturn };
    for (const lease of this.#leases.values()) {
      this.#roll(lease, now);
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
      if (lease.quiet < 4 || lease.dirty || now - lease.lastRenew >= this.#ttl / 3) {
        const agg = this.ledger.aggregate(lease.scopeKey, lease.period.key);
        lease.spentAbs = spentIn(lease.ref, agg);
        lease.usageStale = usageSignature(agg) !== lease.mirrored;
      }
      if (lease.spentAbs > lease.published) lease.unreportedSince ||= now;
      else lease.unreportedSince = 0;
      // Redis is away and the lease ran out its TTL: Redis has handed it to the pool, so stop deciding on it.
      if (!this.#open && now > lease.heldUntil && cap > committed) this.table.swapCap(slot, cap, committed);
      if (!this.#link.up || lease.busy || lease.pumping) continue;
      const intent = tickIntent({
        now, room: cap - committed, committed, granted: lease.granted, published: lease.published, spentAbs: lease.spentAbs,
        lastActivity: lease.lastActivity, lastRenew: lease.lastRenew, lastChunk: lease.lastChunk, callSize: lease.callSize,
        dryUntil: lease.dryUntil, dirty: lease.dirty || lease.usageStale, contended: lease.contendedUntil > now,
      }, timing);
      if (intent) void this.#step(lease, intent).catch(() => null);
    }
  }

  #step(lease: Lease, intent: Exclude<TickIntent, null>): Promise<LeaseReply | null> {
    switch (intent) {
      case 'return': return this.#sync(lease, 'return', () => this.#lowerToCommitted(lease));
      case 'topup': return this.#sync(lease, 'topup', () => ({ grow: true, growMin: lease.callSize }));
      // After Redis came back empty, ask for the lease held before; the script grants what still fits.
      case 'report': return this.#sync(lease, 'report', () => (lease.dirty ? { want: lease.granted } : {}));
      case 'renew': return this.#sync(lease, 'renew', () => ({}));
    }
  }
}
