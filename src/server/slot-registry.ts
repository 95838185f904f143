import type { Config } from '../config/schema.js';
import type { BudgetTable } from '../budget/budget-table.js';
import { limitToCounter, type BudgetRef } from '../budget/budget-ref.js';
import { PeriodClock } from '../budget/periods.js';
import { scopeBudgets } from '../budget/scope-budgets.js';
import { emptyAggregate, spentIn } from '../store/aggregates.js';
import type { Ledger } from '../store/ledger.js';
import type { RateWindows } from '../policy/rate-windows.js';
import { scopePolicy, type ResolvedScope } from '../policy/scope-policy.js';
import type { ScopeHandle } from './messages.js';
import { LiveCatalog } from '../control/catalog.js';
import type { KeyRecord, SpendOffset } from '../control/control-records.js';

export class SlotsExhaustedError extends Error {
  readonly code = 'TG_SLOTS_EXHAUSTED';
}

/** A runtime customer or plan change would need more reserved budget slots than the table holds (control plane: 507). */
export class CapacityError extends Error {
  readonly code = 'capacity_exhausted';
}

/** Customers and plans (config and runtime), and the spend offsets of audited resets (src/control/). */
export interface RegistryControl {
  catalog: LiveCatalog;
  offsets: ReadonlyMap<string, SpendOffset>;
  /** Issued keys (their own budgets and rateLimit make them scopes too); ControlState holds them. */
  keys?: KeyIndex;
}

/** Issued keys by id and each customer's key ids (ControlState). */
export interface KeyIndex {
  keys: ReadonlyMap<string, KeyRecord>;
  keysOf: ReadonlyMap<string, ReadonlySet<string>>;
}

const NO_KEYS: KeyIndex = { keys: new Map(), keysOf: new Map() };

/** A call names a key scope the supervisor no longer knows (revoked meanwhile): refused like an unknown key. */
export class KeyGoneError extends Error {
  readonly code = 'authentication_error';
}

/** A customer asked for more dynamic scopes than `limits.*` allow: a 403 naming the limit, not a full table for everyone. */
export class ScopeLimitError extends Error {
  readonly code = 'scope_limit_exceeded';
}

export interface DynamicScopeLimits {
  /** Live agent scopes not listed in the config, per customer. */
  perCustomer: number;
  /** Live customers first seen through an app key (x-tollgate-customer). */
  customers: number;
  /** Live dynamic scopes in all: the size of the shared generation table. */
  total: number;
  /** A dynamic scope with no reservation and no change in its counters for this long is reclaimed. */
  idleMs: number;
}

/** Budget and window slots one known customer keeps reserved (see SlotRegistry.reservedFor): its scope's, its listed agents', its issued keys'. */
export function reservedSlots(config: Config, catalog: LiveCatalog, customer: string, keys: KeyIndex = NO_KEYS): { budgets: number; rates: number } {
  const c = catalog.customer(customer);
  if (!c) return { budgets: 0, rates: 0 };
  let budgets = scopeBudgets(config, c.id, null, catalog).length;
  let rates = scopePolicy(config, c.id, null, catalog).rates.length;
  for (const id of keys.keysOf.get(c.id) ?? []) {
    const k = keys.keys.get(id);
    budgets += (k?.budgets?.length ?? 0) + (k?.wallet ? 1 : 0);
    if (k?.rateLimit) rates += scopePolicy(config, c.id, null, catalog, k).rates.filter((r) => r.scope.source === 'key').length;
  }
  for (const a of c.agents) {
    budgets += scopeBudgets(config, c.id, a.id, catalog).filter((b) => b.ref.scope.source === 'agent').length;
    rates += scopePolicy(config, c.id, a.id, catalog).rates.filter((r) => r.scope.source === 'agent').length;
  }
  return { budgets, rates };
}

/** A scope created on first use: an agent not in the config, or a customer first seen through an app key. */
interface DynamicScope {
  key: string;
  customer: string;
  agent: string | null;
  handle: ScopeHandle;
  /** Budget slots only this scope uses (its agent budgets; an app-key customer's plan budgets). */
  slots: { key: string; slot: number }[];
  rateSlots: { key: string; slot: number; windowMs: number }[];
  /** Counter values at the last sweep: unchanged counters and no holds mean no call used the scope. */
  seen: bigint[];
  activeAt: number;
  /** Set while reclaiming: shards were told (generation bumped) at this time. */
  evictingSince?: number;
}

const EVICT_SETTLE_MS = 1_000;

/**
 * Main-thread owner of the shared budget table: hands each (scope, budget)
 * one counter slot, seeded from the ledger's aggregates for the current
 * period, so counters after a restart equal the ledger.
 *
 * Dynamic scopes are bounded and reclaimed. Slots the configured customers
 * need (their plan, customer and listed agents' budgets) are reserved up
 * front; dynamic scopes share the rest, at most `perCustomer` agents per
 * customer and `customers` app-key customers. A scope idle for `idleMs` is
 * reclaimed in two steps so no shard can bill a reused slot: (1) its
 * generation in the shared table moves — every shard checks it on a cache
 * hit, in the same synchronous run as the reservation, so no new call uses
 * the old entry; (2) at least one sweep later, if no hold appeared and no
 * counter moved meanwhile, its slots are freed. Its spend is in the ledger's
 * aggregates (rows commit within milliseconds of the last settle, long
 * before idleMs), so a later call re-seeds the slot exactly.
 */
export class SlotRegistry {
  readonly #slots = new Map<string, number>();
  readonly #rateSlots = new Map<string, number>();
  readonly #clock: PeriodClock;
  /** Every allocated budget, by slot: what the alert monitor watches (undefined once reclaimed). */
  readonly refs: (BudgetRef | undefined)[] = [];
  #next = 0;
  #free: number[] = [];
  #rateNext = 0;
  #rateFree: number[] = [];
  #reserved: number;
  #rateReserved: number;
  readonly #catalog: LiveCatalog;
  readonly #offsets: ReadonlyMap<string, SpendOffset>;
  readonly #keys: KeyIndex;
  #dynamicSlots = 0;
  #dynamicRateSlots = 0;
  /** Window slots of reclaimed scopes whose buckets have not aged out yet: freed later, or taken back if the scope returns. */
  readonly #agingRates = new Map<string, { slot: number; windowMs: number; lastUse: number }>();
  readonly #dynamic = new Map<string, DynamicScope>();
  /** Counter keys of each issued key's own budgets and windows, as bound (retireKey frees them). */
  readonly #keySlots = new Map<string, string[]>();
  /** Counter keys of each known (config or runtime) customer's own and plan budgets and windows, as bound (retireCustomer frees them). */
  readonly #customerSlots = new Map<string, string[]>();
  /** Budget slots of revoked keys and deleted customers: still counted against the table until no hold can name them, then freed. */
  readonly #retired: { slot: number; at: number }[] = [];
  readonly #agentsOf = new Map<string, number>();
  #dynamicCustomers = 0;
  readonly #gens: Int32Array;
  #handleFree: number[] = [];
  #handleNext = 0;
  readonly limits: DynamicScopeLimits;
  /** Reclaimed so far (for logs and tests). */
  reclaimed = 0;

  constructor(
    private config: Config,
    private readonly table: BudgetTable,
    private readonly ledger: Ledger,
    private readonly windows?: RateWindows,
    limits: Partial<DynamicScopeLimits> = {},
    /** False while the ledger cannot commit: reclaiming then could re-seed from aggregates missing held rows. */
    private readonly ledgerAccepting: () => boolean = () => true,
    control: RegistryControl = { catalog: new LiveCatalog(config), offsets: new Map() },
  ) {
    this.#catalog = control.catalog;
    this.#offsets = control.offsets;
    this.#keys = control.keys ?? NO_KEYS;
    this.#clock = new PeriodClock(config.timezone);
    this.limits = { perCustomer: 1000, customers: 10_000, total: 100_000, idleMs: 3_600_000, ...limits };
    this.gensSab = new SharedArrayBuffer(4 * this.limits.total);
    this.#gens = new Int32Array(this.gensSab);
    let reserved = 0;
    let rateReserved = 0;
    for (const c of this.#catalog.customers()) {
      const n = this.reservedFor(c.id);
      reserved += n.budgets;
      rateReserved += n.rates;
    }
    this.#rateReserved = rateReserved;
    if (reserved > table.capacity) throw new SlotsExhaustedError(`maxBudgetSlots: the configured customers alone need ${reserved} budget slots, more than the ${table.capacity} configured`);
    this.#reserved = reserved;
  }

  /** What a wallet's slot starts with (src/wallet/wallet-book.ts sets this): what it was credited. */
  walletCredited: (ref: Omit<BudgetRef, 'slot'>) => bigint = () => 0n;

  /** Budget and window slots a known customer (config or runtime) keeps reserved: its own, its plan's, its listed agents'. */
  reservedFor(customer: string): { budgets: number; rates: number } {
    return reservedSlots(this.config, this.#catalog, customer, this.#keys);
  }

  /**
   * A runtime change moves the reserved count by `delta` (a new customer, a
   * plan with more budgets...). Refused, before anything is written, when
   * the table could not hold it beside the dynamic scopes already live.
   */
  checkReserve(delta: { budgets: number; rates: number }): void {
    if (delta.budgets > 0 && this.#reserved + this.#dynamicSlots + this.#retired.length + delta.budgets > this.table.capacity) {
      throw new CapacityError(`the budget table is full: ${this.#reserved} slots reserved for known customers, ${this.#dynamicSlots} in use by dynamic scopes and ${this.#retired.length} by keys revoked lately, of ${this.table.capacity}; this change needs ${delta.budgets} more. The table is sized at start (max of maxBudgetSlots and the stored customers' needs + control.slotHeadroom): restart or raise maxBudgetSlots`);
    }
    const rateCap = this.windows?.capacity ?? 0;
    if (delta.rates > 0 && this.#rateReserved + this.#dynamicRateSlots + delta.rates > rateCap) {
      throw new CapacityError(`the velocity window table is full (${rateCap} windows); this change needs ${delta.rates} more: raise maxBudgetSlots and restart`);
    }
  }

  reserve(delta: { budgets: number; rates: number }): void {
    this.#reserved += delta.budgets;
    this.#rateReserved += delta.rates;
  }

  /**
   * Audited reset: every budget counter of the customer's own scope starts
   * this period again from 0 (holds in flight stay). Returns the spend taken
   * off, per budget, so a slot seeded later from the ledger subtracts it.
   */
  resetSpend(customer: string, now = Date.now()): SpendOffset[] {
    const out: SpendOffset[] = [];
    for (const ref of this.resolve(customer, null, now)) {
      if (ref.wallet) continue; // a wallet has no period: its spend is paid for, resetting it would hand out credit
      const w = this.#clock.window(ref.period, now, ref.timeZone);
      this.table.rollover(ref.slot, w.start);
      const st = this.table.read(ref.slot);
      const prior = this.#offsets.get(ref.key);
      const carried = prior && prior.periodStart === w.start ? BigInt(prior.amount) : 0n;
      this.table.init(ref.slot, { cap: st.cap, limit: st.limit, spent: 0n, periodStart: w.start });
      out.push({ key: ref.key, periodStart: w.start, amount: String(carried + st.spent) });
    }
    return out;
  }

  /** The shared generation table shards check dynamic scopes against (ScopeResolver). */
  readonly gensSab: SharedArrayBuffer;

  /** Slots ever handed out (the high-water mark; freed slots below it are reused). */
  get used(): number {
    return this.#next;
  }

  get dynamicScopes(): number {
    return this.#dynamic.size;
  }

  /**
   * Budgets, velocity windows and policy of a scope, binding counter slots
   * on first use. `keyId`: the call's issued key has its own budgets or
   * rateLimit (a "virtual endpoint"): they apply on top of the customer's.
   */
  resolveScope(customer: string, agent: string | null, now = Date.now(), keyId: string | null = null): ResolvedScope & { handle?: ScopeHandle } {
    const before = this.#dynamic.size;
    const fresh = [customer, `${customer}\u0000${agent}`].filter((k) => !this.#dynamic.has(k));
    try {
      let key: KeyRecord | undefined;
      if (keyId !== null) {
        key = this.#keys.keys.get(keyId);
        if (!key || key.customer !== customer) throw new KeyGoneError(`key "${keyId}" was revoked`);
      }
      return this.#resolveScope(customer, agent, now, key);
    } catch (err) {
      // A scope refused half-way was never seen by a shard: give back what it took at once.
      if (this.#dynamic.size !== before) {
        for (const k of fresh) {
          const s = this.#dynamic.get(k);
          if (!s) continue;
          s.activeAt = -Infinity; // its windows never counted a call
          this.#release(s, now);
        }
      }
      throw err;
    }
  }

  #resolveScope(customer: string, agent: string | null, now: number, key: KeyRecord | undefined): ResolvedScope & { handle?: ScopeHandle } {
    const known = this.#catalog.customer(customer);
    // An app-key customer's own scope is dynamic too; its agents depend on it, so it exists first.
    if (!known) this.#claim(customer, null, now);
    const listed = agent !== null && known !== undefined && known.agents.some((a) => a.id === agent);
    const dynamic = agent !== null && !listed ? this.#claim(customer, agent, now) : !known ? this.#dynamic.get(customer) : undefined;
    const policy = scopePolicy(this.config, customer, agent, this.#catalog, key);
    const rates = policy.rates.map((spec) => {
      let slot = this.#rateSlots.get(spec.key);
      const aging = this.#agingRates.get(spec.key);
      if (aging) {
        this.#agingRates.delete(spec.key);
        this.#ownerOf(customer, spec.scope.source === 'agent' ? agent : null)?.rateSlots.push({ key: spec.key, slot: aging.slot, windowMs: aging.windowMs });
      }
      if (slot === undefined) {
        const capacity = this.windows?.capacity ?? 0;
        const owner = this.#ownerOf(customer, spec.scope.source === 'agent' ? agent : null);
        if (owner && this.#dynamicRateSlots >= capacity - this.#rateReserved) {
          throw new SlotsExhaustedError(`velocity window table full for dynamic scopes (${Math.max(0, capacity - this.#rateReserved)} of ${capacity} windows; the rest are reserved for configured customers); raise maxBudgetSlots`);
        }
        const freed = this.#rateFree.pop();
        slot = freed ?? (this.#rateNext < capacity ? this.#rateNext++ : undefined);
        if (slot === undefined) throw new SlotsExhaustedError(`velocity window table full (${capacity} windows); raise maxBudgetSlots`);
        if (freed !== undefined) this.windows?.clear(freed); // its last window may have had another width
        this.#rateSlots.set(spec.key, slot);
        if (spec.scope.key) this.#bindKey(spec.scope.key, spec.key);
        else if (!owner) this.#bindCustomer(customer, spec.key);
        if (owner) {
          owner.rateSlots.push({ key: spec.key, slot, windowMs: spec.windowMs });
          this.#dynamicRateSlots++;
        }
      }
      return { ...spec, slot };
    });
    const refs = this.resolve(customer, agent, now, key);
    if (dynamic) dynamic.seen = this.#sample(dynamic);
    return { refs, rates, loop: policy.loop, refusal: policy.refusal, clampMaxTokens: policy.clampMaxTokens, resale: policy.resale, sessions: policy.sessions, ...(dynamic ? { handle: { ...dynamic.handle } } : {}) };
  }

  resolve(customer: string, agent: string | null, now = Date.now(), issued?: KeyRecord): BudgetRef[] {
    return scopeBudgets(this.config, customer, agent, this.#catalog, issued).map(({ key, ref }) => {
      let slot = this.#slots.get(key);
      if (slot === undefined) {
        const owner = this.#ownerOf(customer, ref.scope.source === 'agent' ? agent : null);
        if (owner && this.#dynamicSlots + this.#retired.length >= this.table.capacity - this.#reserved) {
          throw new SlotsExhaustedError(`budget table full for dynamic scopes (${this.table.capacity - this.#reserved} of ${this.table.capacity} slots; the rest are reserved for configured customers); raise maxBudgetSlots or lower limits.dynamicScopesPerCustomer`);
        }
        slot = this.#free.pop() ?? (this.#next < this.table.capacity ? this.#next++ : undefined);
        if (slot === undefined) throw new SlotsExhaustedError(`budget table full (${this.table.capacity} slots); raise maxBudgetSlots`);
        const full = { ...ref, slot };
        const w = this.#clock.window(ref.period, now, ref.timeZone);
        // A key's own budget counts the rows naming the key (key_id): after a restart it starts where the ledger says.
        const agg = ref.scope.key !== undefined
          ? (issued ? this.ledger.keyPeriodTotal(customer, issued.key_id, issued.created_at, ref.period, now, ref.timeZone) : emptyAggregate())
          : this.ledger.periodTotal(customer, ref.scope.agent, ref.period, now, ref.timeZone);
        const credited = ref.wallet ? this.walletCredited(ref) : 0n;
        const { limit, cap } = ref.wallet ? { limit: credited, cap: credited } : limitToCounter(ref);
        // An audited reset this period took its spend off the counter: the ledger still has it.
        const offset = this.#offsets.get(key);
        const ledgerSpent = spentIn(full, agg);
        const off = offset && offset.periodStart === w.start ? BigInt(offset.amount) : 0n;
        this.table.init(slot, { cap, limit, spent: ledgerSpent > off ? ledgerSpent - off : 0n, periodStart: w.start });
        this.#slots.set(key, slot);
        this.refs[slot] = full;
        if (ref.scope.key) this.#bindKey(ref.scope.key, key);
        else if (!owner) this.#bindCustomer(customer, key);
        if (owner) {
          owner.slots.push({ key, slot });
          this.#dynamicSlots++;
        }
        return full;
      }
      const full = { ...ref, slot };
      // A limit, burst or threshold changed at run time (plan or customer write): same counter, new cap, spend kept.
      const was = this.refs[slot];
      if (was && (was.limit !== ref.limit || was.burst !== ref.burst || was.enforce !== ref.enforce || JSON.stringify(was.thresholds) !== JSON.stringify(ref.thresholds) || JSON.stringify(was.wallet) !== JSON.stringify(ref.wallet))) {
        const { limit, cap } = limitToCounter(ref);
        // A wallet's limit is what was credited (wallet-book.ts), never the config's: only its terms change here.
        if (!this.table.leased && !ref.wallet) this.table.setLimit(slot, cap, limit);
        this.refs[slot] = full;
      }
      return full;
    });
  }

  #bindKey(keyId: string, counter: string): void {
    const list = this.#keySlots.get(keyId);
    if (list) list.push(counter);
    else this.#keySlots.set(keyId, [counter]);
  }

  #bindCustomer(customer: string, counter: string): void {
    const list = this.#customerSlots.get(customer);
    if (list) list.push(counter);
    else this.#customerSlots.set(customer, [counter]);
  }

  /**
   * A runtime customer was deleted (its keys were revoked with it): its
   * budget slots and windows are retired like a revoked key's, so a churn
   * of sign-ups and deletions does not fill the table. Nothing is refunded;
   * its spend stays in the ledger (a customer created again with the same id
   * is seeded from it).
   */
  retireCustomer(customer: string, now: number): void {
    this.#retireCounters(this.#customerSlots.get(customer) ?? [], now);
    this.#customerSlots.delete(customer);
  }

  /**
   * A key was revoked: its budget slots stop being reserved but stay
   * counted until no hold can still settle on them (sweep frees them after
   * `idleMs`, never shorter than a hold's life, once none is held); its
   * windows age out like a reclaimed scope's. Nothing is refunded: what it
   * spent is in the customer's counters and the ledger.
   */
  retireKey(keyId: string, now: number): void {
    this.#retireCounters(this.#keySlots.get(keyId) ?? [], now);
    this.#keySlots.delete(keyId);
  }

  #retireCounters(counters: readonly string[], now: number): void {
    for (const counter of counters) {
      const slot = this.#slots.get(counter);
      if (slot !== undefined) {
        this.#slots.delete(counter);
        this.#retired.push({ slot, at: now });
        continue;
      }
      const rate = this.#rateSlots.get(counter);
      if (rate === undefined) continue;
      this.#agingRates.set(counter, { slot: rate, windowMs: 3_600_000, lastUse: now }); // the longest window
      this.#dynamicRateSlots++; // #freeAgedRates gives it back
    }
  }

  #freeRetired(now: number): void {
    for (let i = this.#retired.length - 1; i >= 0; i--) {
      const { slot, at } = this.#retired[i]!;
      if (now - at < this.limits.idleMs || this.table.read(slot).reserved !== 0n) continue;
      this.#retired.splice(i, 1);
      this.refs[slot] = undefined;
      this.#free.push(slot);
    }
  }

  /** The dynamic scope that owns budgets of (customer, agent) — undefined for configured ones. */
  #ownerOf(customer: string, agent: string | null): DynamicScope | undefined {
    return this.#dynamic.get(agent === null ? customer : `${customer}\u0000${agent}`);
  }

  /** Finds or creates the record of a dynamic scope, enforcing the limits. */
  #claim(customer: string, agent: string | null, now: number): DynamicScope {
    const key = agent === null ? customer : `${customer}\u0000${agent}`;
    const found = this.#dynamic.get(key);
    if (found) {
      found.activeAt = now;
      if (found.evictingSince !== undefined) found.evictingSince = undefined; // used again: keep it (shards re-resolve under the new generation)
      return found;
    }
    if (agent !== null && (this.#agentsOf.get(customer) ?? 0) >= this.limits.perCustomer) {
      throw new ScopeLimitError(`customer "${customer}" already has ${this.limits.perCustomer} active agent scopes (x-tollgate-agent values not listed in the config), the limit set by limits.dynamicScopesPerCustomer; agent "${agent.slice(0, 100)}" was refused. Idle agent scopes are released after limits.dynamicScopeIdle`);
    }
    if (agent === null && this.#dynamicCustomers >= this.limits.customers) {
      throw new ScopeLimitError(`${this.limits.customers} customers first seen through an app key are active, the limit set by limits.dynamicCustomers; customer "${customer.slice(0, 100)}" was refused. Idle ones are released after limits.dynamicScopeIdle`);
    }
    const index = this.#handleFree.pop() ?? (this.#handleNext < this.limits.total ? this.#handleNext++ : undefined);
    if (index === undefined) throw new SlotsExhaustedError(`dynamic scope table full (${this.limits.total} scopes, limits.dynamicScopes); retry later`);
    const scope: DynamicScope = { key, customer, agent, handle: { index, gen: Atomics.load(this.#gens, index) }, slots: [], rateSlots: [], seen: [], activeAt: now };
    this.#dynamic.set(key, scope);
    if (agent === null) this.#dynamicCustomers++;
    else this.#agentsOf.set(customer, (this.#agentsOf.get(customer) ?? 0) + 1);
    return scope;
  }

  #sample(s: DynamicScope): bigint[] {
    const out: bigint[] = [];
    for (const { slot } of s.slots) {
      const st = this.table.read(slot);
      out.push(st.committed, st.reserved);
    }
    return out;
  }

  /**
   * Reclaims idle dynamic scopes (see the class comment for the two steps).
   * Called by the supervisor every second. Cluster mode keeps its scopes:
   * their slots hold Redis leases that LeaseManager owns.
   */
  sweep(now = Date.now()): number {
    if (!this.ledgerAccepting()) return 0;
    if (this.#agingRates.size) this.#freeAgedRates(now);
    if (this.#retired.length) this.#freeRetired(now);
    let freed = 0;
    for (const s of this.#dynamic.values()) {
      const seen = this.#sample(s);
      const held = seen.some((v, i) => i % 2 === 1 && v !== 0n);
      const moved = held || seen.length !== s.seen.length || seen.some((v, i) => v !== s.seen[i]);
      s.seen = seen;
      if (moved) {
        s.activeAt = now;
        s.evictingSince = undefined;
        continue;
      }
      if (s.evictingSince !== undefined) {
        if (now - s.evictingSince >= EVICT_SETTLE_MS) {
          this.#release(s, now);
          freed++;
        }
        continue;
      }
      // An app-key customer goes only after its agents (they share its budgets).
      if (s.agent === null && (this.#agentsOf.get(s.customer) ?? 0) > 0) continue;
      if (now - s.activeAt >= this.limits.idleMs) {
        Atomics.add(this.#gens, s.handle.index, 1);
        s.handle.gen = Atomics.load(this.#gens, s.handle.index);
        s.evictingSince = now;
      }
    }
    this.reclaimed += freed;
    return freed;
  }

  #freeAgedRates(now: number): void {
    for (const [key, r] of this.#agingRates) {
      if (now - r.lastUse < r.windowMs) continue;
      this.#agingRates.delete(key);
      this.#rateSlots.delete(key);
      this.#rateFree.push(r.slot);
      this.#dynamicRateSlots--;
    }
  }

  #release(s: DynamicScope, now: number): void {
    for (const { key, slot } of s.slots) {
      this.#slots.delete(key);
      this.refs[slot] = undefined;
      this.#free.push(slot);
      this.#dynamicSlots--;
    }
    // A window slot is reused only once every bucket of the old scope has aged out.
    for (const r of s.rateSlots) this.#agingRates.set(r.key, { slot: r.slot, windowMs: r.windowMs, lastUse: s.activeAt });
    this.#freeAgedRates(now);
    this.#handleFree.push(s.handle.index);
    this.#dynamic.delete(s.key);
    if (s.agent === null) this.#dynamicCustomers--;
    else {
      const n = (this.#agentsOf.get(s.customer) ?? 1) - 1;
      if (n) this.#agentsOf.set(s.customer, n);
      else this.#agentsOf.delete(s.customer);
    }
  }
}
