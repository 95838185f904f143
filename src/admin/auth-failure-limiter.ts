// Throttles guessing of the admin (and metrics) token: after `max` failed
// attempts from one client address within a minute, that address gets 429
// (without its token being checked) until the minute is over.
//
// The counts live in a SharedArrayBuffer the supervisor creates and every
// shard maps, so the limit holds for the process, not per shard: spreading
// guesses over many connections (and so over every shard) does not multiply
// it. Behind a load balancer every client shares its address: a flood of bad
// tokens then locks the admin API for a minute for everyone (fail closed).
//
// Table: SLOTS entries of [address hash, window start (s), failures], found by
// probing PROBES slots from the hash. A slot is claimed by compare-and-swap
// of its hash, so two shards recording an address's first failure at once
// end up counting in one slot; the three fields are not written as one
// transaction, so a reader may for an instant see a claimed slot with the
// previous window's start (at worst one extra or one early refusal).
// A spray from more addresses than the table holds evicts the oldest windows;
// each of those addresses has its own `max` anyway.
//
// In a cluster every failure is also counted in Redis (one INCR per failure,
// src/cluster/lockouts.ts, off the request path): the supervisor raises this
// node's count to the cluster's, so guesses spread over nodes add up too.

const WINDOW_S = 60;
const SLOTS = 4096; // power of two
const PROBES = 8;
const FIELDS = 3;
const EPOCH_S = 1_700_000_000; // keeps seconds inside an Int32 for decades

export class AuthFailureLimiter {
  readonly #t: Int32Array;

  /** The shared table, created once by the supervisor and handed to every shard. */
  static createBuffer(): SharedArrayBuffer {
    return new SharedArrayBuffer(SLOTS * FIELDS * 4);
  }

  /** Cluster mode: told of every failure, to count it across nodes. */
  onFail: (address: string) => void = () => {};

  constructor(private readonly max: number, sab: SharedArrayBuffer = AuthFailureLimiter.createBuffer()) {
    this.#t = new Int32Array(sab);
  }

  /** Raises the address's failures in its current window to `count` (what every node together saw). */
  raise(address: string, count: number, now: number): void {
    const sec = toSec(now);
    const h = hash(address);
    let i = this.#find(h, sec);
    if (i < 0) {
      this.#record(h, sec);
      i = this.#find(h, sec);
      if (i < 0) return;
    }
    for (;;) {
      const cur = Atomics.load(this.#t, i + 2);
      if (cur >= count || Atomics.compareExchange(this.#t, i + 2, cur, count) === cur) return;
    }
  }

  /** Seconds to wait when `address` is locked out, else 0. */
  blockedFor(address: string, now: number): number {
    const sec = toSec(now);
    const i = this.#find(hash(address), sec);
    if (i < 0) return 0;
    const start = Atomics.load(this.#t, i + 1);
    if (Atomics.load(this.#t, i + 2) < this.max) return 0;
    return Math.max(1, start + WINDOW_S - sec);
  }

  fail(address: string, now: number): void {
    this.#record(hash(address), toSec(now));
    this.onFail(address);
  }

  #record(h: number, sec: number): void {
    for (let round = 0; round < 3; round++) {
      const i = this.#find(h, sec);
      if (i >= 0) {
        Atomics.add(this.#t, i + 2, 1);
        return;
      }
      // Claim a slot: a free or expired one along the probe, else the oldest.
      let pick = -1;
      let oldest = Infinity;
      for (let p = 0; p < PROBES; p++) {
        const j = slot(h, p);
        const start = Atomics.load(this.#t, j + 1);
        if (Atomics.load(this.#t, j) === 0 || sec - start >= WINDOW_S) {
          pick = j;
          break;
        }
        if (start < oldest) (oldest = start), (pick = j);
      }
      const seen = Atomics.load(this.#t, pick);
      // Another shard may be claiming the same slot: only one compare-and-swap wins; the loser looks again.
      if (Atomics.compareExchange(this.#t, pick, seen, h) !== seen) continue;
      Atomics.store(this.#t, pick + 1, sec);
      Atomics.store(this.#t, pick + 2, 1);
      return;
    }
  }

  /** Index of `h`'s live entry, or -1. */
  #find(h: number, sec: number): number {
    for (let p = 0; p < PROBES; p++) {
      const j = slot(h, p);
      if (Atomics.load(this.#t, j) === h) return sec - Atomics.load(this.#t, j + 1) < WINDOW_S ? j : -1;
    }
    return -1;
  }
}

function toSec(now: number): number {
  return Math.floor(now / 1000) - EPOCH_S;
}

function slot(h: number, probe: number): number {
  return (((h >>> 0) + probe) & (SLOTS - 1)) * FIELDS;
}

/** FNV-1a, never 0 (0 marks a free slot). */
function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 0 || 1;
}
