import type { Config } from '../config/schema.js';
import type { BudgetTable } from '../budget/budget-table.js';
import type { BudgetRef } from '../budget/budget-ref.js';
import type { Ledger } from '../store/ledger.js';
import type { MainToShard, ShardToMain } from '../server/messages.js';
import type { ClusterCounters } from './cluster-stats.js';
import { systemClock, type LeaseClock } from './lease-clock.js';
import { combineVerdicts, type ShortfallVerdict } from './lease-policy.js';
import { LeaseBook, newLease } from './lease-state.js';
import { LeaseStats } from './lease-stats.js';
import { LeaseSteps } from './lease-steps.js';
import { LeaseTick } from './lease-tick.js';
import { nodeIdFor } from './node-id.js';
import { RedisLink, redact, type LeaseLink } from './redis-link.js';
import { budgetKey, walletCreditsKey } from './redis-keys.js';
import type { CreditReply } from './credit-script.js';
import { CONTENDED_MS, ShortfallQueue } from './shortfall-queue.js';

// Main-thread half of cluster mode. For every budget slot this node uses it
// holds a lease from Redis, and the slot's cap in the shared table IS that
// lease: shards decide against it in memory exactly as on a single node.
// Redis is awaited on a call's path only when a shard finds the lease short
// (`shortfall`, shortfall-queue.ts); everything else — top-ups below the
// low-water mark, spend reports, renewals, returns — happens on a timer
// (lease-tick.ts), in one pipeline per tick. Each step on a budget is
// lease-steps.ts; what is known per budget is lease-state.ts.
//
// Table slots in cluster mode count this node only (cap = lease, committed =
// this node's holds + spend); the other nodes' spend sits in the slot's base
// for reports. Invariant: the local cap never exceeds what Redis granted, so
// the global cap holds whatever the shards do between two ticks.

export interface LeaseManagerDeps {
  config: Config;
  table: BudgetTable;
  ledger: Pick<Ledger, 'aggregate'>;
  log: (m: string) => void;
  link: LeaseLink;
  clock: LeaseClock;
}

export class LeaseManager {
  readonly nodeId: string;
  readonly #config: Config;
  readonly #table: BudgetTable;
  readonly #log: (m: string) => void;
  readonly #link: LeaseLink;
  readonly #clock: LeaseClock;
  readonly #book = new LeaseBook();
  readonly #stats = new LeaseStats();
  readonly #steps: LeaseSteps;
  readonly #queue: ShortfallQueue;
  readonly #tick: LeaseTick;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  /** The Redis connection (after start()): the other cluster pieces of the main thread share it. */
  redis: RedisLink | undefined;

  /** Called each time Redis comes (back) up: wallets re-send what Redis may have lost (wallet-book.ts). */
  onRedisUp: () => void = () => {};

  /** Without a timer or a connection: start() adds both; unit tests drive tick() on their own clock. */
  constructor({ config, table, ledger, log, link, clock }: LeaseManagerDeps) {
    const c = config.cluster;
    this.#config = config;
    this.#table = table;
    this.#log = log;
    this.#link = link;
    this.#clock = clock;
    this.nodeId = nodeIdFor(config.dataDir, c.nodeId);
    this.#steps = new LeaseSteps(
      { nodeId: this.nodeId, ttlMs: c.leaseTtl, open: c.redisDown === 'open', growPpm: Math.round(c.leaseFraction * 1e6), keyPrefix: c.keyPrefix, timeZone: config.timezone },
      table, ledger, link, clock, this.#book, this.#stats,
    );
    this.#queue = new ShortfallQueue(this.#steps, table, link, clock, this.#stats, log);
    this.#tick = new LeaseTick(this.#steps, this.#book, table, ledger, link, { ttlMs: c.leaseTtl, idleReturnMs: c.idleReturn }, c.redisDown === 'open');
    // Redis may have restarted empty: every budget says everything again.
    link.onUp = () => {
      for (const l of this.#book.values()) l.dirty = true;
      this.onRedisUp();
    };
    link.listen(this.#steps.recallChannel, (key) => this.#onRecall(key));
  }

  static async start(config: Config, table: BudgetTable, ledger: Ledger, log: (m: string) => void): Promise<LeaseManager> {
    const link = new RedisLink(config.redis!, config.cluster.redisTimeout, log);
    const m = new LeaseManager({ config, table, ledger, log, link, clock: systemClock });
    m.redis = link;
    const up = await link.connect(Math.max(2_000, config.cluster.redisTimeout));
    if (!up) {
      log(`cluster: redis ${redact(config.redis!)} unreachable at start; ` + (config.cluster.redisDown === 'open'
        ? 'deciding on local accounting until it is (redisDown: open)'
        : 'budgeted calls are refused with 503 budget_unavailable until it is (redisDown: closed)'));
    }
    m.#timer = setInterval(() => m.tick(), config.cluster.flushInterval);
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
      let lease = this.#book.get(ref.slot);
      if (!lease) {
        lease = newLease(ref, this.#steps.periodAt(ref, this.#clock.now()), this.#clock.now());
        this.#book.add(lease, this.#steps.key(lease, lease.period));
        this.#table.setLimit(ref.slot, 0n, lease.limit);
        lease.ready = this.#steps.acquire(lease);
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
        this.#stats.recordWait(performance.now() - t0);
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
    const counts = this.#stats.counts;
    counts.shortfalls++;
    const verdicts = await Promise.all(needs.map(({ slot, amount }) => {
      const lease = this.#book.get(slot);
      return lease ? this.#queue.ask(lease, amount) : ('exhausted' as const);
    }));
    const v = combineVerdicts(verdicts);
    if (v === 'retry') counts.granted++;
    else if (v === 'exhausted') counts.exhausted++;
    else counts.unavailable++;
    return v;
  }

  /**
   * A wallet top-up across the cluster: credited once per idempotency key
   * whichever node each copy reaches (credit-script.ts); this node's lease
   * then follows the new cap at once, the others' at their next step (a
   * call that finds its lease short asks Redis, which leases from the new cap).
   */
  async credit(ref: Pick<BudgetRef, 'key' | 'slot'>, idempotencyKey: string, transactionId: string, amountNano: bigint): Promise<CreditReply> {
    const prefix = this.#config.cluster.keyPrefix;
    const reply = await this.#link.credit(budgetKey(prefix, ref, 'total'), walletCreditsKey(prefix, ref), idempotencyKey, transactionId, amountNano);
    const lease = this.#book.get(ref.slot);
    if (lease) {
      lease.exhausted = null;
      lease.dryUntil = 0;
      await this.#steps.sync(lease, 'topup', () => ({ grow: true })).catch(() => null);
    }
    return reply;
  }

  /** Whether Redis still holds one of a wallet's top-ups (the wallet keyed by its counter identity). */
  knowsCredit(walletKey: string, idempotencyKey: string): Promise<boolean> {
    return this.#link.knows(walletCreditsKey(this.#config.cluster.keyPrefix, { key: walletKey }), idempotencyKey);
  }

  /** One timer beat (every cluster.flushInterval once started). */
  tick(): void {
    this.#tick.run(this.#clock.now());
  }

  /** Hands every unused lease back and reports the final spend. Call after the shards have drained. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    if (this.#link.up) {
      const now = this.#clock.now();
      const returns = [...this.#book.values()].map((lease) => {
        this.#steps.roll(lease, now);
        return this.#steps.sync(lease, 'return', () => this.#steps.lowerToCommitted(lease)).catch(() => null);
      });
      const timeout = new Promise((r) => setTimeout(r, 2 * this.#config.cluster.redisTimeout).unref());
      await Promise.race([Promise.all(returns), timeout]);
    } else if (this.#book.size) {
      this.#log(`cluster: redis unreachable at shutdown; this node's leases lapse within ${this.#config.cluster.leaseTtl} ms`);
    }
    await this.#link.quit();
  }

  snapshot(): ClusterCounters {
    const c = this.#config;
    return this.#stats.snapshot(this.#clock.now(), {
      nodeId: this.nodeId, redis: redact(c.redis!), redisDown: c.cluster.redisDown, ttlMs: c.cluster.leaseTtl,
      link: this.#link, leases: this.#book,
    });
  }

  /**
   * Another node has a call that fits only if the room other nodes sit on
   * comes back: give back this node's, and stop stocking up for a while, so
   * the budget pools where the calls are.
   */
  #onRecall(key: string): void {
    const lease = this.#book.byKey(key);
    if (!lease || this.#closed) return;
    lease.contendedUntil = this.#clock.now() + CONTENDED_MS;
    if (this.#table.cap(lease.slot) > this.#table.committed(lease.slot)) {
      void this.#steps.sync(lease, 'return', () => this.#steps.lowerToCommitted(lease)).catch(() => null);
    }
  }
}
