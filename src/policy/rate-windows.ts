// Sliding-window velocity caps shared by every shard: per window, a ring of
// time buckets in a SharedArrayBuffer; each bucket holds [epoch index, count]
// as BigInt64 so a stale bucket is recognised and reset exactly once.
//
// Admission is add-then-check: the amount is added to the current bucket,
// the window is summed, and if it is over the limit the add is rolled back.
// Racing calls can then only under-admit (both roll back), never over-admit.

export interface WindowSpec { slot: number; limit: number; windowMs: number }

const BUCKET_FIELDS = 2; // [epochIndex, count]

export class RateWindows {
  readonly #i: BigInt64Array;
  readonly stride: number;

  constructor(readonly sab: SharedArrayBuffer, readonly buckets: number) {
    this.stride = buckets * BUCKET_FIELDS;
    this.#i = new BigInt64Array(sab);
  }

  static create(capacity: number, buckets = 60): RateWindows {
    return new RateWindows(new SharedArrayBuffer(capacity * buckets * BUCKET_FIELDS * 8), buckets);
  }

  get capacity(): number {
    return this.#i.length / this.stride;
  }

  #bucket(slot: number, epoch: number): number {
    return slot * this.stride + (epoch % this.buckets) * BUCKET_FIELDS;
  }

  /** Sum of the live buckets of a window at `now`. */
  used(spec: WindowSpec, now: number): number {
    const width = spec.windowMs / this.buckets;
    const epoch = Math.floor(now / width);
    const a = this.#i;
    let sum = 0n;
    for (let k = 0; k < this.buckets; k++) {
      const b = this.#bucket(spec.slot, epoch - k);
      if (Atomics.load(a, b) === BigInt(epoch - k)) sum += Atomics.load(a, b + 1);
    }
    return Number(sum);
  }

  /**
   * Tries to add `amount` at `now`. Returns 0 when admitted, else the ms
   * until enough of the window has expired to admit it (for retry-after).
   */
  tryAdd(spec: WindowSpec, amount: number, now: number): number {
    const a = this.#i;
    const width = spec.windowMs / this.buckets;
    const epoch = Math.floor(now / width);
    const b = this.#bucket(spec.slot, epoch);
    this.#claim(b, epoch);
    const add = BigInt(Math.ceil(amount));
    Atomics.add(a, b + 1, add);
    const total = this.used(spec, now);
    if (total <= spec.limit) return 0;
    Atomics.sub(a, b + 1, add);
    return this.#retryAfter(spec, amount, now, epoch, width);
  }

  /** Adjusts a previous add (estimate → actual). Never refuses. */
  adjust(spec: WindowSpec, delta: number, now: number): void {
    if (!delta) return;
    const width = spec.windowMs / this.buckets;
    const epoch = Math.floor(now / width);
    const b = this.#bucket(spec.slot, epoch);
    this.#claim(b, epoch);
    Atomics.add(this.#i, b + 1, BigInt(Math.round(delta)));
  }

  /** Makes the bucket belong to `epoch`, zeroing a stale one exactly once. */
  #claim(b: number, epoch: number) {
    const a = this.#i;
    const e = BigInt(epoch);
    for (;;) {
      const cur = Atomics.load(a, b);
      if (cur >= e) return;
      if (Atomics.compareExchange(a, b, cur, e) === cur) {
        Atomics.store(a, b + 1, 0n);
        return;
      }
    }
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
