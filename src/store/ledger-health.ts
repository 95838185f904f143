// Whether the ledger can record calls, shared by every thread of the process
// through a SharedArrayBuffer: admission reads it on every call without a
// message hop. Cell 0 is "the data disk is below ledger.minFreeBytes" (set by
// the supervisor's watcher); cell 1 + t counts the rows thread t holds in
// memory because their write failed (thread 0 is the supervisor, shard i is
// thread i + 1, the ledger writer thread comes last: it is the one that writes
// rows). Calls are admitted only while every cell is 0.

export class LedgerHealth {
  readonly #cells: Int32Array;

  constructor(readonly sab: SharedArrayBuffer, private readonly thread: number) {
    this.#cells = new Int32Array(sab);
  }

  static create(threads: number): LedgerHealth {
    return new LedgerHealth(new SharedArrayBuffer(4 * (threads + 1)), 0);
  }

  /** This handle as seen from another thread. */
  forThread(thread: number): LedgerHealth {
    return new LedgerHealth(this.sab, thread);
  }

  get accepting(): boolean {
    const c = this.#cells;
    for (let i = 0; i < c.length; i++) if (Atomics.load(c, i) !== 0) return false;
    return true;
  }

  get diskLow(): boolean {
    return Atomics.load(this.#cells, 0) !== 0;
  }

  setDiskLow(low: boolean): void {
    Atomics.store(this.#cells, 0, low ? 1 : 0);
  }

  /** Rows this thread holds uncommitted. */
  setHeld(rows: number): void {
    Atomics.store(this.#cells, 1 + this.thread, rows);
  }

  /** A thread that died lost what it held (already logged by it); its count must not block admission forever. */
  clearThread(thread: number): void {
    Atomics.store(this.#cells, 1 + thread, 0);
  }

  /** Rows held in memory across all threads. */
  get heldRows(): number {
    let n = 0;
    for (let i = 1; i < this.#cells.length; i++) n += Atomics.load(this.#cells, i);
    return n;
  }
}
