// Runaway-loop detection shared by every shard: a count-min sketch of
// (scope, request-body hash) over fixed time windows, in a SharedArrayBuffer.
// Only hashes are kept, never prompt text. A count-min sketch can only
// over-count, and only on collisions, which 4 rows × 8192 columns make rare.

const ROWS = 4;
const FIELDS = 2; // [window epoch, count]

export class LoopGuard {
  readonly #a: BigInt64Array;

  constructor(readonly sab: SharedArrayBuffer, readonly columns: number) {
    this.#a = new BigInt64Array(sab);
  }

  static create(columns = 8192): LoopGuard {
    return new LoopGuard(new SharedArrayBuffer(ROWS * columns * FIELDS * 8), columns);
  }

  /** Counts one more occurrence and returns the estimated count in the current window. */
  hit(fingerprint: Uint8Array, windowMs: number, now: number): number {
    const epoch = BigInt(Math.floor(now / windowMs));
    const a = this.#a;
    let min = Number.MAX_SAFE_INTEGER;
    const view = new DataView(fingerprint.buffer, fingerprint.byteOffset, fingerprint.byteLength);
    for (let r = 0; r < ROWS; r++) {
      const col = view.getUint32(r * 4) % this.columns;
      const b = (r * this.columns + col) * FIELDS;
      for (;;) {
        const cur = Atomics.load(a, b);
        if (cur === epoch) break;
        if (cur > epoch) break;
        if (Atomics.compareExchange(a, b, cur, epoch) === cur) {
          Atomics.store(a, b + 1, 0n);
          break;
        }
      }
      const n = Number(Atomics.add(a, b + 1, 1n)) + 1;
      if (n < min) min = n;
    }
    return min;
  }
}
