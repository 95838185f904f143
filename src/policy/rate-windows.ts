// Sliding-window velocity caps shared by every shard: per window, a ring of
// time buckets in a SharedArrayBuffer; each bucket holds [epoch index, count]
// as BigInt64 so a stale bucket is recognised and reset exactly once.
//
// Admission is add-then-check: the amount is added to the current bucket,
// the window is summed, and if it is over the limit the add is rolled back.
// Racing calls can then only under-admit (both roll back), never over-admit.
//
// The sum admission reads is one more cell per window (`total`), moved with
// every count, not a walk over the buckets: summing 60 buckets was most of the
// enforcement decision's time (~1.6 µs of ~1.9 µs single-threaded, and many
// times that on a loaded box, as it touches 30 cache lines the other shard
// writes). `total` is the sum of every bucket in the ring, so it is the
// window's sum once no bucket holds an expired epoch: a claim resets its
// bucket's count out of `total`, and the claim that moves the window's newest
// epoch (`newest`) on by more than one bucket also resets the buckets it
// skipped (which idle time left holding epochs a window ago or older). A
// racing call whose `now` is a bucket behind reads a total that already
// counts the newer bucket and not the oldest: never less than it added
// itself, so races still only under-admit. used() still walks the buckets
// (views, retry-after).
//
// Leased (cluster mode, src/cluster/window-leases.ts): each bucket also holds
// what is left of the grant Redis made this node for that bucket, and a call
// is admitted only by taking its amount out of it; a bucket whose grant is
// short answers SHORT and the call asks the supervisor for more. The count
// stays this node's own use (the local window). "Left" is one atomic
// counter, so the supervisor takes back exactly what no call took (swap to
// 0) and a negative value is use beyond any grant, to report. When a bucket
// starts, what is left in the one before moves into it ("carried", which the
// supervisor then moves in Redis too), so a busy window far from its limit
// does not wait on Redis at every bucket boundary.

export interface WindowSpec { slot: number; limit: number; windowMs: number }

const BUCKET_FIELDS = 4; // [epochIndex, count, grant left, carried in from the bucket before]
const HEADER = 2; // per window, before its buckets: [total of every bucket's count, newest epoch claimed]
const H_TOTAL = 0;
const H_NEWEST = 1;

/** tryAdd's answer when the window has room but this node's grant for the bucket does not (leased mode). */
export const SHORT = -1;

/** Platforms where a BigInt64 cell's low 32 bits are its first Int32 (every one Node runs on but s390x). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TWO_32 = 2 ** 32;

export class RateWindows {
  readonly #i: BigInt64Array;
  /** The same cells as 32-bit halves: used() compares a bucket's epoch without making BigInts (several per bucket, 60 buckets, every call). */
  readonly #w: Int32Array | undefined;
  readonly stride: number;

  constructor(readonly sab: SharedArrayBuffer, readonly buckets: number, readonly leased = false) {
    this.stride = HEADER + buckets * BUCKET_FIELDS;
    this.#i = new BigInt64Array(sab);
    this.#w = LITTLE_ENDIAN ? new Int32Array(sab) : undefined;
  }

  static create(capacity: number, buckets = 60, leased = false): RateWindows {
    return new RateWindows(new SharedArrayBuffer(capacity * (HEADER + buckets * BUCKET_FIELDS) * 8), buckets, leased);
  }

  get capacity(): number {
    return this.#i.length / this.stride;
  }

  #bucket(slot: number, epoch: number): number {
    return slot * this.stride + HEADER + (epoch % this.buckets) * BUCKET_FIELDS;
  }

  /** Sum of the live buckets of a window at `now`. */
  used(spec: WindowSpec, now: number): number {
    const width = spec.windowMs / this.buckets;
    const epoch = Math.floor(now / width);
    const a = this.#i;
    const w = this.#w;
    // Summed as Numbers: exact, every count and their sum staying far below 2^53.
    let sum = 0;
    for (let k = 0; k < this.buckets; k++) {
      const e = epoch - k;
      const b = this.#bucket(spec.slot, e);
      // The epoch cell read as its two halves: a claim racing this read shows as the old epoch or the
      // new one, as with one atomic read (epochs of one bucket differ in their low half).
      const live = w ? Atomics.load(w, 2 * b) === (e | 0) && Atomics.load(w, 2 * b + 1) === Math.floor(e / TWO_32) : Atomics.load(a, b) === BigInt(e);
      if (live) sum += Number(Atomics.load(a, b + 1));
    }
    return sum;
  }

  /**
   * Empties a window's slot before it is handed to another window (slot
   * registry). Needed since its epochs are counted in its own bucket width:
   * a slot left by a per-minute window holds epochs a per-hour window would
   * never reach, so its buckets would never be claimed and the total would
   * only grow. Only for a slot no shard uses.
   */
  clear(slot: number): void {
    const h = slot * this.stride;
    for (let i = 0; i < this.stride; i++) Atomics.store(this.#i, h + i, 0n);
  }

  /** The bucket index of `now` in a window (the epoch Redis grants are keyed by in leased mode). */
  epochOf(windowMs: number, now: number): number {
    return Math.floor(now / (windowMs / this.buckets));
  }

  /**
   * Tries to add `amount` at `now`. Returns 0 when admitted, SHORT when the
   * window has room but this node's grant for the bucket does not (leased
   * mode), else the ms until enough of the window has expired to admit it
   * (for retry-after). `unleased`: admit against the local window only
   * (redisDown: open while Redis is unreachable; reported later as debt).
   */
  tryAdd(spec: WindowSpec, amount: number, now: number, unleased = false): number {
    const a = this.#i;
    const width = spec.windowMs / this.buckets;
    const epoch = Math.floor(now / width);
    const h = spec.slot * this.stride;
    const b = this.#bucket(spec.slot, epoch);
    this.#claim(h, b, epoch);
    const add = BigInt(Math.ceil(amount));
    Atomics.add(a, b + 1, add);
    const total = Number(Atomics.add(a, h + H_TOTAL, add) + add);
    if (total <= spec.limit) {
      if (!this.leased) return 0;
      const left = Atomics.sub(a, b + 2, add) - add;
      if (left >= 0n || unleased) return 0;
      Atomics.add(a, b + 2, add);
    }
    Atomics.sub(a, b + 1, add);
    Atomics.sub(a, h + H_TOTAL, add);
    return total <= spec.limit ? SHORT : this.#retryAfter(spec, amount, now, epoch, width);
  }

  /**
   * Leased mode, supervisor: adds what Redis granted for bucket `epoch`.
   * False when the bucket has moved on to a later epoch (the grant is no use
   * here any more: the caller gives it back).
   */
  grant(slot: number, epoch: number, amount: number): boolean {
    const b = this.#bucket(slot, epoch);
    this.#claim(slot * this.stride, b, epoch);
    if (Atomics.load(this.#i, b) !== BigInt(epoch)) return false;
    Atomics.add(this.#i, b + 2, BigInt(amount));
    return true;
  }

  /** Leased mode, supervisor: the epochs of a window's buckets that hold anything. */
  epochsOf(slot: number): number[] {
    const out: number[] = [];
    for (let k = 0; k < this.buckets; k++) {
      const e = Atomics.load(this.#i, slot * this.stride + HEADER + k * BUCKET_FIELDS);
      if (e > 0n) out.push(Number(e));
    }
    return out;
  }

  /**
   * Leased mode, supervisor: takes a bucket's grant left to settle it with
   * Redis: a negative value (use beyond grants) always, a positive one
   * (unused) only when `unused`. Returns what was taken (0: nothing).
   */
  takeLeft(slot: number, epoch: number, unused: boolean): number {
    const a = this.#i;
    const b = this.#bucket(slot, epoch);
    for (;;) {
      if (Atomics.load(a, b) !== BigInt(epoch)) return 0;
      const left = Atomics.load(a, b + 2);
      if (left === 0n || (left > 0n && !unused)) return 0;
      if (Atomics.compareExchange(a, b + 2, left, 0n) === left) return Number(left);
    }
  }

  /** Leased mode, supervisor: puts back what takeLeft took when Redis could not be told. */
  putLeft(slot: number, epoch: number, amount: number): void {
    const b = this.#bucket(slot, epoch);
    if (Atomics.load(this.#i, b) === BigInt(epoch)) Atomics.add(this.#i, b + 2, BigInt(amount));
  }

  /** Adjusts a previous add (estimate → actual). Never refuses. */
  adjust(spec: WindowSpec, delta: number, now: number): void {
    if (!delta) return;
    const width = spec.windowMs / this.buckets;
    const epoch = Math.floor(now / width);
    const h = spec.slot * this.stride;
    const b = this.#bucket(spec.slot, epoch);
    this.#claim(h, b, epoch);
    const d = BigInt(Math.round(delta));
    Atomics.add(this.#i, b + 1, d);
    Atomics.add(this.#i, h + H_TOTAL, d);
    if (this.leased) Atomics.sub(this.#i, b + 2, BigInt(Math.round(delta)));
  }

  /**
   * Makes the bucket belong to `epoch`, zeroing a stale one exactly once; the
   * claim that moves the window's newest epoch on past a gap also resets the
   * buckets of the skipped epochs, so `total` counts only the window's.
   * Cheap on the hot path: a bucket is claimed once per bucket width.
   */
  #claim(h: number, b: number, epoch: number) {
    const a = this.#i;
    if (Atomics.load(a, b) >= BigInt(epoch)) return;
    if (!this.#reset(h, b, epoch)) return;
    if (this.leased) this.#carry(b, epoch);
    const newest = this.#raiseNewest(h, epoch);
    for (let g = Math.max(newest + 1, epoch - this.buckets + 1); g < epoch; g++) this.#reset(h, h + HEADER + (g % this.buckets) * BUCKET_FIELDS, g);
  }

  /** Moves bucket `b` to `epoch` if it holds an older one, taking its count out of the window's total. True if this call moved it. */
  #reset(h: number, b: number, epoch: number): boolean {
    const a = this.#i;
    const e = BigInt(epoch);
    for (;;) {
      const cur = Atomics.load(a, b);
      if (cur >= e) return false;
      if (Atomics.compareExchange(a, b, cur, e) === cur) {
        // A count a racing call added after the move is taken out of both (lost, as with a plain reset): total stays their sum.
        const old = Atomics.exchange(a, b + 1, 0n);
        if (old !== 0n) Atomics.sub(a, h + H_TOTAL, old);
        Atomics.store(a, b + 2, 0n);
        Atomics.store(a, b + 3, 0n);
        return true;
      }
    }
  }

  /** Raises the window's newest claimed epoch to `epoch`; returns the one before (a gap to reset when more than one behind). */
  #raiseNewest(h: number, epoch: number): number {
    const a = this.#i;
    const e = BigInt(epoch);
    for (;;) {
      const cur = Atomics.load(a, h + H_NEWEST);
      if (cur >= e) return epoch; // a later claim already moved it (and reset its own gap)
      if (Atomics.compareExchange(a, h + H_NEWEST, cur, e) === cur) return Number(cur);
    }
  }

  /** Moves what is left of the previous bucket's grant into the bucket that just started (leased mode). */
  #carry(b: number, epoch: number) {
    const a = this.#i;
    const p = epoch % this.buckets > 0 ? b - BUCKET_FIELDS : b + (this.buckets - 1) * BUCKET_FIELDS;
    if (Atomics.load(a, p) !== BigInt(epoch - 1)) return;
    for (;;) {
      const left = Atomics.load(a, p + 2);
      if (left <= 0n) return; // use beyond grants stays with its bucket, to be reported there
      if (Atomics.compareExchange(a, p + 2, left, 0n) === left) {
        Atomics.add(a, b + 2, left);
        Atomics.add(a, b + 3, left);
        return;
      }
    }
  }

  /** Leased mode, supervisor: what this node was granted for bucket `epoch` in all (its use plus what is left, debts netted). */
  grantedIn(slot: number, epoch: number): number {
    const b = this.#bucket(slot, epoch);
    if (Atomics.load(this.#i, b) !== BigInt(epoch)) return 0;
    return Number(Atomics.load(this.#i, b + 1) + Atomics.load(this.#i, b + 2));
  }

  /** Leased mode, supervisor: takes what was carried into bucket `epoch` from the one before, to move it in Redis too. */
  takeCarried(slot: number, epoch: number): number {
    const b = this.#bucket(slot, epoch);
    if (Atomics.load(this.#i, b) !== BigInt(epoch)) return 0;
    return Number(Atomics.exchange(this.#i, b + 3, 0n));
  }

  /** Leased mode, supervisor: puts back what takeCarried took when Redis could not be told. */
  putCarried(slot: number, epoch: number, amount: number): void {
    const b = this.#bucket(slot, epoch);
    if (Atomics.load(this.#i, b) === BigInt(epoch)) Atomics.add(this.#i, b + 3, BigInt(amount));
  }

  #retryAfter(spec: WindowSpec, amount: number, now: number, epoch: number, width: number): number {
    // Walk from the oldest live bucket forward until dropping them frees enough.
    let excess = this.used(spec, now) + amount - spec.limit;
    for (let k = this.buckets - 1; k >= 0; k--) {
      const b = this.#bucket(spec.slot, epoch - k);
      if (Atomics.load(this.#i, b) !== BigInt(epoch - k)) continue;
      excess -= Number(Atomics.load(this.#i, b + 1));
      if (excess <= 0) return Math.max(1, (epoch - k + this.buckets) * width - now);
    }
    return spec.windowMs;
  }
}
