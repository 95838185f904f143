import type { Config, CustomerConfig, PlanConfig } from '../config/schema.js';
import type { BudgetTable } from '../budget/budget-table.js';
import { PeriodClock } from '../budget/periods.js';
import { ReservationBook } from '../budget/reservations.js';
import { KeyDirectory, type Caller } from '../identity/key-directory.js';
import { RouteTable } from '../routing/route-table.js';
import type { PriceTable } from '../pricing/price-table.js';
import type { Ledger } from '../store/ledger.js';
import { TokenCounter } from '../tokenize/token-counter.js';
import { UpstreamPools } from './upstream-pools.js';
import type { ScopeResolver } from '../server/scope-resolver.js';
import { ShardMetrics } from './shard-metrics.js';

const LEVELS = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 } as const;

export interface CallerPolicy {
  clampMaxTokens: boolean;
}

/** Everything one shard's request pipeline needs, built once per shard. */
export class ShardContext {
  readonly keys: KeyDirectory;
  readonly routes: RouteTable;
  readonly clock: PeriodClock;
  readonly book: ReservationBook;
  readonly pools = new UpstreamPools();
  readonly tokens = new TokenCounter(1);
  readonly metrics = new ShardMetrics();
  readonly #plans: Map<string, PlanConfig>;
  inFlight = 0;
  draining = false;
  readonly #idempotencyInFlight = new Set<string>();
  /**
   * In-flight upstream calls: their cancel function and the deadline of their
   * total timeout. One sweep a second enforces the deadlines, so a call costs
   * no timer of its own; shutdown cancels them all.
   */
  readonly inFlightCalls = new Map<(reason: string) => void, number>();
  #idleWaiters: (() => void)[] = [];

  constructor(
    readonly config: Config,
    readonly shard: number,
    readonly table: BudgetTable,
    readonly ledger: Ledger,
    readonly prices: PriceTable,
    readonly scopes: ScopeResolver,
  ) {
    this.keys = new KeyDirectory(config);
    this.routes = new RouteTable(config);
    this.clock = new PeriodClock(config.timezone);
    this.book = new ReservationBook(table, shard, config.reservationTtl);
    this.#plans = new Map(config.plans.map((p) => [p.name, p]));
  }

  policy(caller: Caller): CallerPolicy {
    const customer: CustomerConfig | undefined = caller.known ? this.keys.customer(caller.customer) : undefined;
    const plan = caller.plan ? this.#plans.get(caller.plan) : undefined;
    return { clampMaxTokens: customer?.clampMaxTokens ?? plan?.clampMaxTokens ?? false };
  }

  /** Structured log line (JSON). Never given prompts, completions or keys. */
  log(level: 'debug' | 'info' | 'warn' | 'error', msg: string, fields: Record<string, unknown> = {}): void {
    if (LEVELS[level] < LEVELS[this.config.logLevel]) return;
    process.stderr.write(JSON.stringify({ level, time: new Date().toISOString(), shard: this.shard, msg, ...fields }) + '\n');
  }

  /** One call per (customer, idempotency key) at a time on this shard. */
  claimIdempotencyKey(customer: string, key: string): boolean {
    const k = `${customer}\u0000${key}`;
    if (this.#idempotencyInFlight.has(k)) return false;
    this.#idempotencyInFlight.add(k);
    return true;
  }

  releaseIdempotencyKey(customer: string, key: string): void {
    this.#idempotencyInFlight.delete(`${customer}\u0000${key}`);
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
    let n = 0;
    for (const [cancel, deadline] of this.inFlightCalls) {
      if (deadline <= now) {
        this.inFlightCalls.delete(cancel);
        cancel(reason);
        n++;
      }
    }
    return n;
  }

  async close(): Promise<void> {
    await this.pools.close();
    await this.tokens.close();
  }
}
