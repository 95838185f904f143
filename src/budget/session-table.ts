import type { SessionKey } from './session-key.js';

// Session budget counters shared by every shard: a fixed-capacity hash table
// in one SharedArrayBuffer (created by the supervisor, handed to shards in
// workerData), so millions of sessions cost a known, bounded amount of memory
// and no allocation per session.
//
// Layout: entries of BigInt64 fields, grouped in buckets of BUCKET entries.
//   key     64-bit session key (session-key.ts); 0 = never used, -1 = being reclaimed
//   last    ms of the session's last call (start or end): it expires `ttl` after
//   pins    calls holding the entry: an open hold, or an admission in progress
//   per session budget i: committed (spent + reserved), spent
// then one Int32 lock word per bucket (0 = free, else the locking shard + 1).
// Bytes per session: 8 × (3 + 2 × budgets) + 4 / BUCKET (one budget: 40.25 B).
//
// A key may live in either of two buckets (lo and hi halves of the key):
// two-choice hashing keeps buckets even: 1M distinct sessions fill 97.9 % of
// 1M entries and 99.6 % of 1.05M before finding both buckets full
// (bench/session-memory.mjs measures it).
//
// Lookups take no lock. Inserting a key locks its two buckets (in index
// order), so one key can never get two entries. An entry is reused when its
// session expired (no call for `ttl`) and no call pins it. Pinning and
// reclaiming are Dekker-style: a pinner adds to `pins` and then re-reads
// `key`; a reclaimer swaps `key` to -1 and then reads `pins`. With
// sequentially consistent Atomics at least one of them sees the other and
// backs off, so counters are never reset under a live call.
//
// Invariant per session budget: committed == spent + Σ open holds. A
// reservation succeeds only if committed + amount <= cap, checked and applied
// in one compare-exchange, as in budget-table.ts.

export const BUCKET = 16;
const F_KEY = 0;
const F_LAST = 1;
const F_PINS = 2;
const F_BUDGET0 = 3;
/** Which 32-bit word of a BigInt64 holds its low half (1 only on big-endian hosts). */
const LOW_WORD = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 0 : 1;
const EMPTY = 0n;
const BUSY = -1n;

export interface SessionTiming {
  /** A session with no call for this long is over: its entry can be reused. */
  ttlMs: number;
  /**
   * Pins older than ttl + this belong to a shard that died (a live shard
   * returns every hold within its reservation TTL): the entry is reused anyway.
   */
  staleMs: number;
}

export interface SessionCounters { committed: bigint; spent: bigint }

export class SessionTable {
  readonly stride: number;
  readonly buckets: number;
  readonly #a: BigInt64Array;
  /** The same memory as 32-bit words: lookups compare a key's low word first, without allocating a BigInt. */
  readonly #w: Int32Array;
  readonly #locks: Int32Array;

  /** `capacity` sessions (a multiple of BUCKET), each with room for `budgets` session budgets. */
  constructor(readonly sab: SharedArrayBuffer, readonly capacity: number, readonly budgets: number) {
    this.stride = F_BUDGET0 + 2 * budgets;
    this.buckets = capacity / BUCKET;
    this.#a = new BigInt64Array(sab, 0, capacity * this.stride);
    this.#w = new Int32Array(sab, 0, capacity * this.stride * 2);
    this.#locks = new Int32Array(sab, capacity * this.stride * 8, this.buckets);
  }

  static bytes(capacity: number, budgets: number): number {
    const cap = roundCapacity(capacity);
    return cap * (F_BUDGET0 + 2 * budgets) * 8 + (cap / BUCKET) * 4;
  }

  static create(capacity: number, budgets: number): SessionTable {
    const cap = roundCapacity(capacity);
    return new SessionTable(new SharedArrayBuffer(SessionTable.bytes(cap, budgets)), cap, budgets);
  }

  /**
   * Finds the session's entry, or takes a free or expired one for it, and
   * pins it (a new entry starts with zero counters). Returns the entry, or -1
   * when both of its buckets are full of live sessions.
   */
  acquire(k: SessionKey, now: number, t: SessionTiming, shard: number): number {
    if (this.capacity === 0) return -1;
    const b1 = k.lo % this.buckets;
    const b2 = k.hi % this.buckets;
    const found = this.#find(k, b1, b2);
    if (found >= 0 && !this.#reusable(found * this.stride, now, t) && this.pin(found, k.key, now)) return found;
    this.#lock(b1, b2, shard);
    try {
      // Under the lock nobody reclaims in these buckets: a match found now pins for sure.
      const again = this.#find(k, b1, b2);
      if (again >= 0) {
        // The same id after its session ended is a new session: fresh counters.
        if (this.#reusable(again * this.stride, now, t) && this.#reclaim(again, k.key, now, t)) return again;
        if (this.pin(again, k.key, now)) return again;
      }
      return this.#insert(k.key, b1, b2, now, t);
    } finally {
      this.#unlock(b1, b2);
    }
  }

  /** Pins `entry` if it still belongs to `key` (false: it was reused for another session). */
  pin(entry: number, key: bigint, now: number): boolean {
    const a = this.#a;
    const b = entry * this.stride;
    Atomics.add(a, b + F_PINS, 1n);
    if (Atomics.load(a, b + F_KEY) !== key) {
      Atomics.sub(a, b + F_PINS, 1n);
      return false;
    }
    this.#touch(b, now);
    // Re-read after the touch: a reclaimer that judged the entry stale by an
    // older `last` has swapped the key by now, and we back off (see #reclaim).
    if (Atomics.load(a, b + F_KEY) !== key) {
      Atomics.sub(a, b + F_PINS, 1n);
      return false;
    }
    return true;
  }

  /** Ends a pin: the call is over (settled, released, or refused). Its end starts the idle clock again. */
  unpin(entry: number, now: number): void {
    const b = entry * this.stride;
    this.#touch(b, now);
    Atomics.sub(this.#a, b + F_PINS, 1n);
  }

  tryReserve(entry: number, budget: number, amount: bigint, cap: bigint): boolean {
    const a = this.#a;
    const f = entry * this.stride + F_BUDGET0 + 2 * budget;
    for (;;) {
      const c = Atomics.load(a, f);
      if (c + amount > cap) return false;
      if (Atomics.compareExchange(a, f, c, c + amount) === c) return true;
    }
  }

  /** Replaces a hold with the actual amount; `held` is 0n when the hold already went back. */
  settle(entry: number, budget: number, held: bigint, actual: bigint): void {
    const f = entry * this.stride + F_BUDGET0 + 2 * budget;
    Atomics.add(this.#a, f + 1, actual);
    Atomics.add(this.#a, f, actual - held);
  }

  release(entry: number, budget: number, held: bigint): void {
    Atomics.sub(this.#a, entry * this.stride + F_BUDGET0 + 2 * budget, held);
  }

  read(entry: number, budget: number): SessionCounters {
    const f = entry * this.stride + F_BUDGET0 + 2 * budget;
    return { committed: Atomics.load(this.#a, f), spent: Atomics.load(this.#a, f + 1) };
  }

  lastUsed(entry: number): number {
    return Number(Atomics.load(this.#a, entry * this.stride + F_LAST));
  }

  pins(entry: number): number {
    return Number(Atomics.load(this.#a, entry * this.stride + F_PINS));
  }

  /** Sessions alive at `now` (a full scan, for metrics and tests). */
  live(now: number, t: SessionTiming): number {
    let n = 0;
    for (let e = 0; e < this.capacity; e++) {
      const b = e * this.stride;
      const key = Atomics.load(this.#a, b + F_KEY);
      if (key !== EMPTY && !this.#reusable(b, now, t)) n++;
    }
    return n;
  }

  /** Frees the bucket locks a (dead) shard held. Only the supervisor calls this. */
  dropShard(shard: number): void {
    for (let i = 0; i < this.buckets; i++) Atomics.compareExchange(this.#locks, i, shard + 1, 0);
  }

  #find(k: SessionKey, b1: number, b2: number): number {
    const r = this.#findIn(k, b1);
    return r >= 0 || b1 === b2 ? r : this.#findIn(k, b2);
  }

  #findIn(k: SessionKey, bucket: number): number {
    const lo = k.lo | 0;
    const w = this.#w;
    const step = 2 * this.stride;
    const first = bucket * BUCKET;
    for (let e = first, i = first * step + LOW_WORD; e < first + BUCKET; e++, i += step) {
      if (Atomics.load(w, i) === lo && Atomics.load(this.#a, e * this.stride + F_KEY) === k.key) return e;
    }
    return -1;
  }

  /** Caller holds both bucket locks. Prefers a never-used entry in the emptier bucket, then an expired one. */
  #insert(key: bigint, b1: number, b2: number, now: number, t: SessionTiming): number {
    // Two-choice balance: the bucket with more room (never used or expired) takes it.
    const order = b1 === b2 ? [b1] : this.#room(b1, now, t) >= this.#room(b2, now, t) ? [b1, b2] : [b2, b1];
    for (const bucket of order) {
      for (let e = bucket * BUCKET; e < (bucket + 1) * BUCKET; e++) if (this.#empty(e) && this.#reclaim(e, key, now, t)) return e;
    }
    for (const bucket of order) {
      for (let e = bucket * BUCKET; e < (bucket + 1) * BUCKET; e++) {
        if (!this.#empty(e) && this.#reusable(e * this.stride, now, t) && this.#reclaim(e, key, now, t)) return e;
      }
    }
    return -1;
  }

  #empty(e: number): boolean {
    const i = 2 * e * this.stride;
    return Atomics.load(this.#w, i) === 0 && Atomics.load(this.#w, i + 1) === 0;
  }

  #room(bucket: number, now: number, t: SessionTiming): number {
    let n = 0;
    for (let e = bucket * BUCKET; e < (bucket + 1) * BUCKET; e++) if (this.#empty(e) || this.#reusable(e * this.stride, now, t)) n++;
    return n;
  }

  /**
   * Gives entry `e` (empty or reusable, bucket locked) to `key` with zero
   * counters, pinned once. False when a call pinned the old session first.
   */
  #reclaim(e: number, key: bigint, now: number, t: SessionTiming): boolean {
    const a = this.#a;
    const b = e * this.stride;
    const old = Atomics.load(a, b + F_KEY);
    if (old === BUSY || Atomics.compareExchange(a, b + F_KEY, old, BUSY) !== old) return false;
    // A call pinned the old session between our check and the swap: it stays.
    // Pins older than ttl + staleMs are a dead shard's: wiped below. (A live
    // call pinning such a session in this very instant sees the swapped key
    // in pin() and backs off; its pin count may then be off by one on the
    // new session: a race that needs a dead shard's pins, a day of idleness
    // and the same microsecond, accepted instead of per-shard pin counters.)
    if (old !== EMPTY && Atomics.load(a, b + F_PINS) !== 0n && !this.#stale(b, now, t)) {
      Atomics.store(a, b + F_KEY, old);
      return false;
    }
    for (let f = b + F_BUDGET0; f < b + this.stride; f++) Atomics.store(a, f, 0n);
    Atomics.store(a, b + F_LAST, BigInt(now));
    Atomics.store(a, b + F_PINS, 1n);
    Atomics.store(a, b + F_KEY, key);
    return true;
  }

  #reusable(b: number, now: number, t: SessionTiming): boolean {
    const idle = now - Number(Atomics.load(this.#a, b + F_LAST));
    if (idle <= t.ttlMs) return false;
    return Atomics.load(this.#a, b + F_PINS) === 0n || idle > t.ttlMs + t.staleMs;
  }

  #stale(b: number, now: number, t: SessionTiming): boolean {
    return now - Number(Atomics.load(this.#a, b + F_LAST)) > t.ttlMs + t.staleMs;
  }

  #touch(b: number, now: number): void {
    // Never moves backwards: another shard's clock read may be a little behind.
    const a = this.#a;
    const v = BigInt(now);
    for (;;) {
      const cur = Atomics.load(a, b + F_LAST);
      if (cur >= v || Atomics.compareExchange(a, b + F_LAST, cur, v) === cur) return;
    }
  }

  #lock(b1: number, b2: number, shard: number): void {
    const [x, y] = b1 <= b2 ? [b1, b2] : [b2, b1];
    this.#spin(x, shard);
    if (y !== x) this.#spin(y, shard);
  }

  #spin(bucket: number, shard: number): void {
    // Held for a handful of loads and stores, never across an await.
    while (Atomics.compareExchange(this.#locks, bucket, 0, shard + 1) !== 0) { /* spin */ }
  }

  #unlock(b1: number, b2: number): void {
    Atomics.store(this.#locks, b1, 0);
    if (b2 !== b1) Atomics.store(this.#locks, b2, 0);
  }
}

/** Capacity rounded up to whole buckets. */
export function roundCapacity(capacity: number): number {
  return Math.ceil(Math.max(0, capacity) / BUCKET) * BUCKET;
}
