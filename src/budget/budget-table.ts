// Budget counters shared by every shard: one row of BigInt64 fields per budget
// slot in a SharedArrayBuffer, updated only with Atomics.
//
// Invariant per slot: committed == spent + Σ reserved[shard].
// A reservation succeeds only if committed + amount <= cap, checked and
// applied in one compare-exchange, so parallel calls cannot overshoot the
// cap by more than their estimation error. Reservations are also counted per
// shard so the supervisor can return the holds of a shard that died.

const F_CAP = 0;        // hard stop: limit × (1 + burst), in the slot's unit
const F_LIMIT = 1;      // nominal limit, for reporting
const F_COMMITTED = 2;  // spent + reserved
const F_SPENT = 3;      // settled in the current period
const F_PERIOD = 4;     // start (ms) of the period the counters belong to
const F_BASE = 5;       // cluster: other nodes' settled spend this period; for reports only, never decides
const F_RESERVED0 = 6;

export interface SlotState {
  cap: bigint; limit: bigint; committed: bigint; spent: bigint; reserved: bigint; periodStart: number;
}

export interface TableOptions {
  /**
   * Cluster mode (src/cluster/): cap, committed and spent count this node
   * only, and the cap is the lease this node holds from Redis. A new period
   * then starts with a cap of 0, since a lease belongs to one period: the
   * first call asks for a fresh one instead of spending the old lease.
   */
  leased?: boolean;
}

export class BudgetTable {
  readonly stride: number;
  readonly leased: boolean;
  readonly #a: BigInt64Array;

  constructor(readonly sab: SharedArrayBuffer, readonly shards: number, opts: TableOptions = {}) {
    this.stride = F_RESERVED0 + shards;
    this.leased = opts.leased ?? false;
    this.#a = new BigInt64Array(sab);
  }

  static create(capacity: number, shards: number, opts: TableOptions = {}): BudgetTable {
    const sab = new SharedArrayBuffer(capacity * (F_RESERVED0 + shards) * 8);
    return new BudgetTable(sab, shards, opts);
  }

  get capacity(): number {
    return this.#a.length / this.stride;
  }

  /** Writes a slot's starting state. Only the slot registry calls this, before it hands the slot out. */
  init(slot: number, s: { cap: bigint; limit: bigint; spent: bigint; periodStart: number }): void {
    const b = slot * this.stride;
    const a = this.#a;
    Atomics.store(a, b + F_CAP, s.cap);
    Atomics.store(a, b + F_LIMIT, s.limit);
    Atomics.store(a, b + F_SPENT, s.spent);
    Atomics.store(a, b + F_PERIOD, BigInt(s.periodStart));
    Atomics.store(a, b + F_BASE, 0n);
    let reserved = 0n;
    for (let i = 0; i < this.shards; i++) reserved += Atomics.load(a, b + F_RESERVED0 + i);
    Atomics.store(a, b + F_COMMITTED, s.spent + reserved);
  }

  /** Changes the cap (config reload, top-up) without touching what was spent. */
  setLimit(slot: number, cap: bigint, limit: bigint): void {
    const b = slot * this.stride;
    Atomics.store(this.#a, b + F_CAP, cap);
    Atomics.store(this.#a, b + F_LIMIT, limit);
  }

  /** Cluster: a wallet's limit to show (what was credited cluster-wide); its cap is this node's lease. */
  setNominalLimit(slot: number, limit: bigint): void {
    Atomics.store(this.#a, slot * this.stride + F_LIMIT, limit);
  }

  /**
   * Cluster: moves the cap to `cap` only if it is still `expected` (a
   * rollover may have zeroed it meanwhile). Returns whether it moved.
   */
  swapCap(slot: number, expected: bigint, cap: bigint): boolean {
    return Atomics.compareExchange(this.#a, slot * this.stride + F_CAP, expected, cap) === expected;
  }

  /** Cluster: other nodes' settled spend this period, added to `spent` and `committed` by read(). */
  setBase(slot: number, base: bigint): void {
    Atomics.store(this.#a, slot * this.stride + F_BASE, base);
  }

  periodStart(slot: number): number {
    return Number(Atomics.load(this.#a, slot * this.stride + F_PERIOD));
  }

  /** This node's settled spend this period (read() adds the other nodes'). */
  spent(slot: number): bigint {
    return Atomics.load(this.#a, slot * this.stride + F_SPENT);
  }

  /**
   * Moves the slot into the period starting at `periodStart` if it is still in
   * an older one: spent restarts at zero, holds in flight carry over.
   */
  rollover(slot: number, periodStart: number): void {
    const a = this.#a;
    const b = slot * this.stride;
    const current = Atomics.load(a, b + F_PERIOD);
    // Compared as numbers (period starts are ms, far below 2^53): no BigInt made on every call's check, only for a rollover.
    if (Number(current) >= periodStart) return;
    if (Atomics.compareExchange(a, b + F_PERIOD, current, BigInt(periodStart)) !== current) return; // another shard did it
    if (this.leased) {
      Atomics.store(a, b + F_CAP, 0n);
      Atomics.store(a, b + F_BASE, 0n);
    }
    const old = Atomics.exchange(a, b + F_SPENT, 0n);
    Atomics.sub(a, b + F_COMMITTED, old);
  }

  tryReserve(slot: number, amount: bigint, shard: number): boolean {
    const a = this.#a;
    const b = slot * this.stride;
    const cap = Atomics.load(a, b + F_CAP);
    // Each BigInt operation allocates: the sum is made once, and a lost race retries from the value the exchange saw.
    let c = Atomics.load(a, b + F_COMMITTED);
    for (;;) {
      const next = c + amount;
      if (next > cap) return false;
      const seen = Atomics.compareExchange(a, b + F_COMMITTED, c, next);
      if (seen === c) break;
      c = seen;
    }
    Atomics.add(a, b + F_RESERVED0 + shard, amount);
    return true;
  }

  /**
   * Reserves without the cap check: a shadow budget (`enforce: false`) keeps
   * counting a call it would have refused, so its thresholds still see it.
   */
  forceReserve(slot: number, amount: bigint, shard: number): void {
    const a = this.#a;
    const b = slot * this.stride;
    Atomics.add(a, b + F_COMMITTED, amount);
    Atomics.add(a, b + F_RESERVED0 + shard, amount);
  }

  /** Cluster: other nodes' settled spend this period (see setBase). */
  base(slot: number): bigint {
    return Atomics.load(this.#a, slot * this.stride + F_BASE);
  }

  /** Replaces a hold with the actual amount. `held` is 0n when the hold already expired. */
  settle(slot: number, held: bigint, actual: bigint, shard: number): void {
    const a = this.#a;
    const b = slot * this.stride;
    Atomics.add(a, b + F_SPENT, actual);
    Atomics.add(a, b + F_COMMITTED, actual - held);
    if (held !== 0n) Atomics.sub(a, b + F_RESERVED0 + shard, held);
  }

  release(slot: number, held: bigint, shard: number): void {
    const a = this.#a;
    const b = slot * this.stride;
    Atomics.sub(a, b + F_COMMITTED, held);
    Atomics.sub(a, b + F_RESERVED0 + shard, held);
  }

  /**
   * Drift repair: sets this node's settled spend to `value` only if it is
   * still `expected` (no settle landed since it was read), moving committed
   * by the same difference so committed == spent + Σ reserved holds.
   * Returns whether it applied.
   */
  repairSpent(slot: number, expected: bigint, value: bigint): boolean {
    const a = this.#a;
    const b = slot * this.stride;
    if (Atomics.compareExchange(a, b + F_SPENT, expected, value) !== expected) return false;
    Atomics.add(a, b + F_COMMITTED, value - expected);
    return true;
  }

  /** Returns every hold a (dead) shard had. Only the supervisor calls this. */
  dropShard(shard: number, slotsInUse: number): void {
    const a = this.#a;
    for (let slot = 0; slot < slotsInUse; slot++) {
      const b = slot * this.stride;
      const r = Atomics.exchange(a, b + F_RESERVED0 + shard, 0n);
      if (r !== 0n) Atomics.sub(a, b + F_COMMITTED, r);
    }
  }

  read(slot: number): SlotState {
    const a = this.#a;
    const b = slot * this.stride;
    let reserved = 0n;
    for (let i = 0; i < this.shards; i++) reserved += Atomics.load(a, b + F_RESERVED0 + i);
    // Other nodes' spend shifts cap, committed and spent alike: room (cap − committed) stays this node's.
    const base = Atomics.load(a, b + F_BASE);
    return {
      cap: Atomics.load(a, b + F_CAP) + base,
      limit: Atomics.load(a, b + F_LIMIT),
      committed: Atomics.load(a, b + F_COMMITTED) + base,
      spent: Atomics.load(a, b + F_SPENT) + base,
      reserved,
      periodStart: Number(Atomics.load(a, b + F_PERIOD)),
    };
  }

  /**
   * limit − committed (other nodes' spend included, as read() adds it), at
   * least 0: what every answer reports as the room left. Three loads, not
   * read()'s whole row (each BigInt load allocates).
   */
  roomUnderLimit(slot: number): bigint {
    const a = this.#a;
    const b = slot * this.stride;
    const limit = Atomics.load(a, b + F_LIMIT);
    const committed = Atomics.load(a, b + F_COMMITTED) + Atomics.load(a, b + F_BASE);
    return limit > committed ? limit - committed : 0n;
  }

  limit(slot: number): bigint {
    return Atomics.load(this.#a, slot * this.stride + F_LIMIT);
  }

  /** committed, alone: the number the decision reads. */
  committed(slot: number): bigint {
    return Atomics.load(this.#a, slot * this.stride + F_COMMITTED);
  }

  cap(slot: number): bigint {
    return Atomics.load(this.#a, slot * this.stride + F_CAP);
  }
}
