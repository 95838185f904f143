import type { Config } from '../config/schema.js';
import type { BudgetTable } from '../budget/budget-table.js';
import { PeriodClock } from '../budget/periods.js';
import { ReservationBook } from '../budget/reservations.js';
import { OutputForecast } from '../budget/output-forecast.js';
import { KeyDirectory } from '../identity/key-directory.js';
import { ControlState } from '../control/control-state.js';
import type { ControlDelta, ControlSnapshot } from '../control/control-records.js';
import { RouteTable } from '../routing/route-table.js';
import type { PriceTable } from '../pricing/price-table.js';
import type { Ledger } from '../store/ledger.js';
import type { PgLedger } from '../store/pg/pg-ledger.js';
import { TokenCounter } from '../tokenize/token-counter.js';
import { UpstreamPools } from './upstream-pools.js';
import type { ScopeResolver } from '../server/scope-resolver.js';
import type { ShardToMain } from '../server/messages.js';
import { ShardMetrics } from './shard-metrics.js';
import { unknownModelFallback } from './call-pricing.js';
import { createLogger, flushLogger, type Logger } from '../observability/logger.js';
import type { RateWindows } from '../policy/rate-windows.js';
import type { LoopGuard } from '../policy/loop-guard.js';
import { SessionTable, type SessionTiming } from '../budget/session-table.js';
import type { BudgetRef, CallAmounts } from '../budget/budget-ref.js';
import type { ShortfallVerdict } from '../cluster/lease-policy.js';
import type { RateShort, RateShortfallVerdict } from '../policy/velocity.js';
import type { ClusterClaim } from '../cluster/idempotency-script.js';
import { claimHash, claimHoldMs, type Claim, type ClaimOutcome, type IdempotencyClaims } from './idempotency-claims.js';
import { LinkedList, type Linked } from '../collections/linked-list.js';


/** Something in flight that shutdown or its deadline can cancel. */
export interface Cancellable extends Linked<Cancellable> {
  cancel(reason: string): void;
  /** Its deadline in InFlightCalls (set there; a class declares it and the links, so its shape stays one). */
  dueAt?: number;
}

/** What is in flight, with deadlines: a list through the calls themselves; only the once-a-second sweep walks it. */
export class InFlightCalls {
  readonly #list = new LinkedList<Cancellable>();

  /** Adds `c` with deadline `at`, or moves its deadline. */
  set(c: Cancellable, at: number): void {
    c.dueAt = at;
    this.#list.push(c);
  }

  delete(c: Cancellable): boolean {
    return this.#list.remove(c);
  }

  has(c: Cancellable): boolean {
    return c.listed === true;
  }

  get size(): number {
    return this.#list.size;
  }

  /** Removes and returns those due at `now` (their cancel may add or remove others). */
  takeDue(now: number): Cancellable[] {
    const due: Cancellable[] = [];
    for (let c = this.#list.first; c; ) {
      const next = c.next;
      if (c.dueAt! <= now) {
        this.#list.remove(c);
        due.push(c);
      }
      c = next;
    }
    return due;
  }
}

/** Everything one shard's request pipeline needs, built once per shard. */
export class ShardContext {
  readonly keys: KeyDirectory;
  /** Customers, plans and issued keys (config + runtime), kept current by control-plane deltas (src/control/). */
  readonly control: ControlState;
  readonly routes: RouteTable;
  readonly clock: PeriodClock;
  readonly book: ReservationBook;
  /** Output held for calls without a cap, from recent completions (per shard). */
  readonly forecast: OutputForecast;
  readonly pools = new UpstreamPools();
  readonly tokens = new TokenCounter(1);
  readonly metrics: ShardMetrics;
  readonly logger: Logger;
  inFlight = 0;
  draining = false;
  readonly unknownPrice: ReturnType<typeof unknownModelFallback>;
  /** Session budget counters shared by the shards (empty when no session budget is configured). */
  readonly sessions: SessionTable;
  readonly sessionTiming: SessionTiming;
  /** Sends a message to the supervisor (set by the shard). */
  emit: (m: ShardToMain) => void = () => {};
  /** With `ledger.postgres`: the cluster ledger, which admin usage listings and reports read instead of this node's LMDB. */
  clusterLedger?: PgLedger;
  /** Cluster mode only (src/cluster/): this node's lease was short for a call; may more come from Redis? */
  onBudgetShortfall?: (refs: readonly BudgetRef[], estimate: CallAmounts) => Promise<ShortfallVerdict>;
  /** Cluster mode only: this node's grant of a velocity window was short for a call (src/cluster/window-leases.ts). */
  onRateShortfall?: (short: RateShort) => Promise<RateShortfallVerdict>;
  /** Cluster mode only: idempotency keys claimed for every node (src/cluster/idempotency-leases.ts). */
  clusterIdempotency?: {
    claim(customer: string, key: string, requestId: string): Promise<ClusterClaim>;
    finish(customer: string, key: string, requestId: string, chargedRequestId: string): void;
  };
  /** Cluster mode only: counts a repeated body's sighting for every node; resolves with the cluster's count this window (src/cluster/loop-counts.ts). */
  countLoopHit?: (fingerprint: string, windowMs: number, now: number, add: number) => Promise<number>;
  /** This shard's live claims in the process-wide table, to release exactly them. */
  readonly #claims = new Map<string, Claim>();
  readonly #claimHoldMs: number;
  /**
   * In-flight upstream calls (the call itself, not a closure made per call) and the deadline of their
   * total timeout. One sweep a second enforces the deadlines, so a call costs
   * no timer of its own; shutdown cancels them all.
   */
  readonly inFlightCalls = new InFlightCalls();
  #idleWaiters: (() => void)[] = [];

  constructor(
    readonly config: Config,
    readonly shard: number,
    readonly table: BudgetTable,
    readonly ledger: Ledger,
    public prices: PriceTable,
    readonly scopes: ScopeResolver,
    readonly policyTables: { windows: RateWindows; loops: LoopGuard; claims: IdempotencyClaims; sessions?: SessionTable },
    control?: ControlSnapshot,
  ) {
    this.sessions = policyTables.sessions ?? SessionTable.create(0, 0);
    // A live shard returns every hold within its reservation TTL (+ the 1 s sweep): older pins are a dead shard's.
    this.sessionTiming = { ttlMs: config.sessionTtl, staleMs: Math.max(config.reservationTtl, config.monitoring.reservationTtl) + 5_000 };
    this.#claimHoldMs = claimHoldMs(config);
    this.control = new ControlState(config, control, (d) => this.#onControl(d));
    this.keys = new KeyDirectory(config, this.control.catalog);
    for (const k of this.control.keys.values()) this.keys.putKey(k);
    this.unknownPrice = unknownModelFallback(config.unknownModel === 'default' ? config.unknownModelPrice : undefined);
    this.routes = new RouteTable(config);
    this.clock = new PeriodClock(config.timezone);
    this.book = new ReservationBook(table, shard, config.reservationTtl);
    this.forecast = new OutputForecast(config.reservations);
    this.logger = createLogger({ level: config.logLevel, base: { shard } });
    this.metrics = new ShardMetrics(shard, {
      inFlight: () => this.inFlight,
      reservationsOpen: () => this.book.size,
      tokenizerQueue: () => this.tokens.queueSize,
    });
  }


  /** What a control-plane change means for this shard's derived state (the shared counters need nothing). */
  #onControl(d: ControlDelta): void {
    switch (d.t) {
      case 'customer': this.scopes.invalidate(d.customer.id); break;
      case 'customer-deleted': this.scopes.invalidate(d.id); break;
      case 'plan': case 'plan-deleted': this.scopes.invalidate(); break;
      case 'key': this.keys.putKey(d.key); break;
      case 'key-revoked': this.keys.removeKey(d.hash); this.scopes.invalidate(d.customer); break; // drops a scope of the key's own budgets
      case 'spend-reset': break;
    }
  }

  /** Structured log line (JSON). Never given prompts, completions or keys. */
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
    this.logger[level](fields, msg);
  }

  /**
   * One call per (customer, idempotency key) at a time across every shard
   * (idempotency-claims.ts). Claim first, then look in the ledger: a copy
   * that gets the claim after the first call released it finds its row.
   */
  claimIdempotencyKey(customer: string, key: string, now = Date.now()): ClaimOutcome {
    const r = this.policyTables.claims.claim(claimHash(customer, key), this.shard, now, this.#claimHoldMs);
    if (r.outcome === 'claimed') this.#claims.set(`${customer}\u0000${key}`, r.claim);
    return r.outcome;
  }

  /** After the call's row is committed (or it is known to have charged nothing). */
  releaseIdempotencyKey(customer: string, key: string): void {
    const k = `${customer}\u0000${key}`;
    const c = this.#claims.get(k);
    if (!c) return;
    this.#claims.delete(k);
    this.policyTables.claims.release(c);
  }

  callFinished(): void {
    if (this.inFlight === 0) for (const w of this.#idleWaiters.splice(0)) w();
  }

  /** Resolves when no call is in flight, or after `ms`. Returns whether it went idle. */
  whenIdle(ms: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), ms);
      this.#idleWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Cancels calls past their deadline (every call when `now` is Infinity). */
  cancelOverdue(now: number, reason: string): number {
    const due = this.inFlightCalls.takeDue(now);
    for (const call of due) call.cancel(reason);
    return due.length;
  }

  async close(): Promise<void> {
    await this.pools.close();
    await this.tokens.close();
    this.metrics.prom.stop();
    flushLogger(this.logger);
  }
}
