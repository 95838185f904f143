import { BudgetTable } from '../../src/budget/budget-table.js';
import type { BudgetRef } from '../../src/budget/budget-ref.js';
import { configSchema } from '../../src/config/schema.js';
import type { LeaseClock } from '../../src/cluster/lease-clock.js';
import { LeaseManager } from '../../src/cluster/lease-manager.js';
import type { LeaseReply, LeaseRequest } from '../../src/cluster/lease-script.js';
import type { LeaseLink } from '../../src/cluster/redis-link.js';
import { RateWindows } from '../../src/policy/rate-windows.js';
import { SlotRegistry } from '../../src/server/slot-registry.js';
import { Ledger } from '../../src/store/ledger.js';
import type { UsageRecord } from '../../src/store/usage-record.js';
import { tempDir } from '../helpers/temp-dir.js';

// The lease manager without Redis or timers: a clock the test moves, a
// stand-in for the Redis link that answers each lease step as the script
// would for one budget (this node plus `others`, a fixed claim of the other
// nodes), and the real budget table, slot registry and ledger.

export const T0 = Date.parse('2026-03-10T12:00:00Z');

export class TestClock implements LeaseClock {
  t = T0;
  now = () => this.t;
  /** Waiting moves the clock: a recall wait takes no real time. */
  sleep = async (ms: number) => {
    this.t += ms;
  };
}

export interface SentStep { key: string; req: LeaseRequest }

export class ScriptedRedis implements LeaseLink {
  up = true;
  onUp = () => {};
  downSince: number | null = null;
  lastError: string | null = null;
  roundTrips = 0;
  errors = 0;
  readonly sent: SentStep[] = [];
  /** What the other nodes claim (live leases), their settled spend, and the unused room they report. */
  others = 0n;
  othersSpent = 0n;
  othersRoom = 0n;
  #g = new Map<string, bigint>();
  #s = new Map<string, bigint>();
  #gate: Promise<void> | null = null;
  #open: () => void = () => {};
  #recall: (key: string) => void = () => {};

  constructor(private readonly clock: TestClock) {}

  /** Holds every reply until release(): steps stay in flight while more calls arrive. */
  hold(): void {
    this.#gate = new Promise((r) => (this.#open = r));
  }

  release(): void {
    this.#gate = null;
    this.#open();
  }

  /** Another node's script asks this node for its room back. */
  recall(key: string): void {
    this.#recall(key);
  }

  steps(filter: (r: LeaseRequest) => boolean = () => true): LeaseRequest[] {
    return this.sent.map((s) => s.req).filter(filter);
  }

  async lease(key: string, req: LeaseRequest): Promise<LeaseReply> {
    this.sent.push({ key, req });
    this.roundTrips++;
    if (this.#gate) await this.#gate;
    if (!this.up) throw new Error('redis unreachable');
    // The lease script's arithmetic for one node (src/cluster/lease-script.ts), expiry left out.
    const mine = req.spent > (this.#s.get(key) ?? 0n) ? req.spent : (this.#s.get(key) ?? 0n);
    let held = this.#g.get(key) ?? 0n;
    if (held < mine) held = mine;
    const lo = mine > req.floor ? mine : req.floor;
    const ceiling = lo > req.cap - this.others ? lo : req.cap - this.others;
    let want = req.want;
    const base = held > lo ? held : lo;
    if (req.growPpm > 0) {
      const free = req.cap - this.others - base;
      let chunk = free > 0n ? (free * BigInt(req.growPpm)) / 1_000_000n : 0n;
      if (chunk < req.growMin) chunk = 0n;
      if (base + chunk > want) want = base + chunk;
    }
    let target = want < 0n ? held : want;
    if (target < lo) target = lo;
    if (target > ceiling) target = ceiling;
    if (req.need >= 0n && target < req.need) target = lo;
    this.#g.set(key, target);
    this.#s.set(key, mine);
    return {
      granted: target, spentTotal: mine + this.othersSpent, mine, others: this.others, active: 1, ceiling,
      now: this.clock.now(), outstanding: this.others - this.othersSpent, othersRoom: this.othersRoom, cap: req.cap,
    };
  }

  write(): void {}
  listen(_channel: string, onMessage: (message: string) => void): void {
    this.#recall = onMessage;
  }
  async connect(): Promise<boolean> {
    return this.up;
  }
  async quit(): Promise<void> {}
}

export interface Harness {
  manager: LeaseManager;
  clock: TestClock;
  redis: ScriptedRedis;
  table: BudgetTable;
  ledger: Ledger;
  ref: BudgetRef;
  /** What a shard does for one call: reserve `n` requests on the slot (false: the lease is short). */
  reserve(n?: number): boolean;
  /** What a shard does when a call ends: settle the hold at its actual amount and commit a usage row. */
  settle(n?: number): Promise<void>;
  close(): Promise<void>;
}

/** One customer with a budget of `limit` requests a month, under lease on one node. */
export async function leaseHarness(limit: number, cluster: Record<string, unknown> = {}): Promise<Harness> {
  const dir = tempDir('tollgate-lease-');
  const config = configSchema.parse({
    dataDir: dir,
    redis: 'redis://127.0.0.1:1',
    cluster: { nodeId: 'node-a', leaseTtl: 9_000, idleReturn: 3_000, leaseFraction: 0.5, ...cluster },
    customers: [{ id: 'acme', keys: ['tg-acme-key-1'], budgets: [{ limit, unit: 'requests', period: 'month' }] }],
  });
  const table = BudgetTable.create(16, 2, { leased: true });
  const ledger = new Ledger(dir, 'UTC', false);
  const registry = new SlotRegistry(config, table, ledger, RateWindows.create(16));
  const clock = new TestClock();
  const redis = new ScriptedRedis(clock);
  const manager = new LeaseManager({ config, table, ledger, log: () => {}, link: redis, clock });
  const ref = registry.resolve('acme', null, clock.now())[0]!;
  let seq = 0;
  return {
    manager, clock, redis, table, ledger, ref,
    reserve: (n = 1) => table.tryReserve(ref.slot, BigInt(n), 0),
    settle: async (n = 1) => {
      table.settle(ref.slot, BigInt(n), BigInt(n), 0);
      for (let i = 0; i < n; i++) await ledger.append(usageRow(clock.now(), seq++));
    },
    close: () => ledger.close(),
  };
}

function usageRow(ts: number, seq: number): UsageRecord {
  return {
    request_id: `req_lease${String(seq).padStart(8, '0')}`, ts, customer: 'acme',
    agent: null, tags: {}, endpoint: '/v1/chat/completions', model_requested: 'gpt-4o-mini', model: 'gpt-4o-mini',
    provider: 'openai', prompt_tokens: 10, completion_tokens: 5, cached_tokens: 0, cache_write_tokens: 0,
    cost_nano: 1_000, billed_nano: 1_000, decision: 'allowed', reason: null, status: 200, latency_ms: 3,
    idempotency_key: null, price_source: 'gpt-4o-mini', usage_source: 'provider',
  };
}
