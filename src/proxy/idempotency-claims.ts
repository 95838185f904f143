import { createHash } from 'node:crypto';
import type { Config } from '../config/schema.js';

// Who is running the call with an idempotency key right now, across every
// shard of the process: a fixed-size table in a SharedArrayBuffer created by
// the supervisor. One key, one live claim, whatever shard each copy lands on
// (issue 11.8: a per-shard set let two copies reach the provider).
//
// Layout: buckets of WAYS entries, each [key hash, expires at (ms), owner
// shard + 1] as BigInt64, and one Int32 lock word per bucket. A key may live
// in either of two buckets (two-choice hashing keeps the table usable close
// to full); a claim locks both (lower index first, so two claimers never
// deadlock), looks for the key in both, and takes a free or expired entry.
// Holding both locks is what makes "look, then insert" atomic: an
// open-addressing table without locks cannot stop two threads inserting the
// same key into two different free entries. A lock is held for a few dozen
// instructions and never across an await.
//
// Keys are 64-bit hashes (SHA-256 of customer and key, first 8 bytes): two
// different keys of one customer in flight at once collide with odds of
// about 2^-64 per pair, which would give the second a false 409. No other
// failure is a false "in flight": a claim older than the longest possible
// call is stale and taken over, and the supervisor clears a dead shard's
// claims (and any lock it held) before it restarts it.

export const WAYS = 8;
const FIELDS = 3; // [hash, expiresAt, owner + 1]

export type ClaimOutcome = 'claimed' | 'in_flight' | 'full';

/** What a claimer keeps to release exactly its own claim (never a successor's). */
export interface Claim { index: number; hash: bigint; expiresAt: bigint; owner: bigint }

export class IdempotencyClaims {
  readonly #ways: BigInt64Array;
  readonly #locks: Int32Array;
  readonly buckets: number;

  constructor(readonly sab: SharedArrayBuffer) {
    this.buckets = sab.byteLength / (WAYS * FIELDS * 8 + 4);
    this.#ways = new BigInt64Array(sab, 0, this.buckets * WAYS * FIELDS);
    this.#locks = new Int32Array(sab, this.buckets * WAYS * FIELDS * 8, this.buckets);
  }

  /** Room for `capacity` claims in flight at once (rounded up to whole buckets): ~24.5 bytes each. */
  static create(capacity: number): IdempotencyClaims {
    const buckets = Math.max(1, Math.ceil(capacity / WAYS));
    return new IdempotencyClaims(new SharedArrayBuffer(buckets * (WAYS * FIELDS * 8 + 4)));
  }

  get capacity(): number {
    return this.buckets * WAYS;
  }

  /**
   * Claims `hash` for `shard` until `now + holdMs`. 'in_flight' when another
   * live claim holds it; 'full' when both of its buckets are full of live
   * claims of other keys (the caller refuses rather than let a copy through).
   */
  claim(hash: bigint, shard: number, now: number, holdMs: number): { outcome: 'claimed'; claim: Claim } | { outcome: 'in_flight' | 'full' } {
    const [b1, b2] = this.#bucketsOf(hash);
    const owner = BigInt(shard + 1);
    this.#lock(Math.min(b1, b2), owner);
    if (b1 !== b2) this.#lock(Math.max(b1, b2), owner);
    try {
      const w = this.#ways;
      const t = BigInt(now);
      let free = -1;
      for (const b of b1 === b2 ? [b1] : [b1, b2]) {
        for (let i = b * WAYS; i < (b + 1) * WAYS; i++) {
          const at = i * FIELDS;
          const h = w[at]!;
          const live = h !== 0n && w[at + 1]! > t;
          if (h === hash) {
            if (live) return { outcome: 'in_flight' };
            free = i; // stale: this key's own entry is the one to take over
            break;
          }
          if (!live && free < 0) free = i;
        }
        if (free >= 0 && w[free * FIELDS] === hash) break;
      }
      if (free < 0) return { outcome: 'full' };
      const expiresAt = t + BigInt(Math.max(1, Math.ceil(holdMs)));
      const at = free * FIELDS;
      w[at] = hash;
      w[at + 1] = expiresAt;
      w[at + 2] = owner;
      return { outcome: 'claimed', claim: { index: free, hash, expiresAt, owner } };
    } finally {
      if (b1 !== b2) this.#unlock(Math.max(b1, b2));
      this.#unlock(Math.min(b1, b2));
    }
  }

  /** Ends a claim; a no-op if it went stale and someone else took the entry since. */
  release(c: Claim): void {
    const b = Math.floor(c.index / WAYS);
    this.#lock(b, c.owner);
    try {
      const w = this.#ways;
      const at = c.index * FIELDS;
      if (w[at] === c.hash && w[at + 1] === c.expiresAt && w[at + 2] === c.owner) w[at] = w[at + 1] = w[at + 2] = 0n;
    } finally {
      this.#unlock(b);
    }
  }

  /**
   * A shard died: its calls are gone, so are its claims. Also frees any
   * lock it died holding. Run by the supervisor before the successor starts.
   */
  dropShard(shard: number): number {
    const owner = BigInt(shard + 1);
    const ownerLock = shard + 1;
    const w = this.#ways;
    let dropped = 0;
    for (let b = 0; b < this.buckets; b++) {
      Atomics.compareExchange(this.#locks, b, ownerLock, 0);
      this.#lock(b, 0n);
      try {
        for (let i = b * WAYS; i < (b + 1) * WAYS; i++) {
          const at = i * FIELDS;
          if (w[at] !== 0n && w[at + 2] === owner) {
            w[at] = w[at + 1] = w[at + 2] = 0n;
            dropped++;
          }
        }
      } finally {
        this.#unlock(b);
      }
    }
    return dropped;
  }

  /** Claims live at `now` (a scan: for stats and tests, not the hot path). */
  live(now: number): number {
    const w = this.#ways;
    const t = BigInt(now);
    let n = 0;
    for (let b = 0; b < this.buckets; b++) {
      this.#lock(b, 0n);
      for (let i = b * WAYS; i < (b + 1) * WAYS; i++) if (w[i * FIELDS] !== 0n && w[i * FIELDS + 1]! > t) n++;
      this.#unlock(b);
    }
    return n;
  }

  #bucketsOf(hash: bigint): [number, number] {
    const n = BigInt(this.buckets);
    const u = BigInt.asUintN(64, hash);
    return [Number((u & 0xffffffffn) % n), Number((u >> 32n) % n)];
  }

  /**
   * Spins: the holder is another thread inside a few dozen instructions.
   * The word records the holder (shard + 1; the supervisor uses 0 → -1) so
   * dropShard can free a lock its dead shard held.
   */
  #lock(b: number, owner: bigint): void {
    const mark = owner === 0n ? -1 : Number(owner);
    while (Atomics.compareExchange(this.#locks, b, 0, mark) !== 0) { /* spin */ }
  }

  #unlock(b: number): void {
    Atomics.store(this.#locks, b, 0);
  }
}

/** The table key of (customer, idempotency key): never 0, which marks a free entry. */
export function claimHash(customer: string, key: string): bigint {
  const d = createHash('sha256').update(`${customer.length}:${customer}`).update(key).digest();
  const h = d.readBigInt64LE(0);
  return h === 0n ? 1n : h;
}

/**
 * How long a claim holds before it counts as stale: the longest a call can
 * run. Each upstream attempt gets its target's total timeout, a call makes
 * up to maxAttempts of them, and a minute of grace covers the wait for the
 * scope, a cluster lease and the ledger commit after the last byte.
 * Computed from the config the shard started with; a reload that raises
 * timeouts applies to claims made after a restart.
 */
export function claimHoldMs(config: Pick<Config, 'providers' | 'routes' | 'retry'>): number {
  let total = 0;
  for (const p of config.providers) total = Math.max(total, p.timeouts.total);
  let attempts = config.retry.maxAttempts;
  for (const r of config.routes) {
    attempts = Math.max(attempts, r.retry?.maxAttempts ?? 0);
    for (const t of r.targets) total = Math.max(total, t.timeouts?.total ?? 0);
  }
  return attempts * total + 60_000;
}
