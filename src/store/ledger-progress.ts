// Where the ledger writer is, shared by every thread through a
// SharedArrayBuffer: the last journal group made durable, the last one
// written behind into LMDB, and the writer's counters (for /metrics).
// Readers use it for read-your-writes: a call is answered once its group is
// durable, so a read waits until LMDB has caught up with the durable
// position it sees when it starts (a few ms: one write-behind commit).

const DURABLE = 0;
const APPLIED = 1;
const COUNTERS = ['journalCommits', 'journalRows', 'journalSyncMicros', 'lmdbCommits', 'lmdbRows', 'lmdbCommitMicros', 'pendingRows', 'readWaitTimeouts'] as const;
export type WriterCounter = (typeof COUNTERS)[number];
/** The highest durable position a reader is waiting for LMDB to reach. */
const WANTED = 2 + COUNTERS.length;

export class LedgerProgress {
  readonly #cells: BigInt64Array;

  constructor(readonly sab: SharedArrayBuffer) {
    this.#cells = new BigInt64Array(sab);
  }

  static create(): LedgerProgress {
    return new LedgerProgress(new SharedArrayBuffer(8 * (3 + COUNTERS.length)));
  }

  get durable(): number {
    return Number(Atomics.load(this.#cells, DURABLE));
  }

  get applied(): number {
    return Number(Atomics.load(this.#cells, APPLIED));
  }

  markDurable(seq: number): void {
    Atomics.store(this.#cells, DURABLE, BigInt(seq));
  }

  markApplied(seq: number): void {
    Atomics.store(this.#cells, APPLIED, BigInt(seq));
    Atomics.notify(this.#cells, APPLIED);
  }

  add(counter: WriterCounter, n: number): void {
    Atomics.add(this.#cells, 2 + COUNTERS.indexOf(counter), BigInt(Math.round(n)));
  }

  set(counter: WriterCounter, n: number): void {
    Atomics.store(this.#cells, 2 + COUNTERS.indexOf(counter), BigInt(Math.round(n)));
  }

  read(counter: WriterCounter): number {
    return Number(Atomics.load(this.#cells, 2 + COUNTERS.indexOf(counter)));
  }

  /** The highest durable position a reader waits for LMDB to reach (the writer's side). */
  get wanted(): number {
    return Number(Atomics.load(this.#cells, WANTED));
  }

  /** Resolves once a reader raises `wanted` above `seen` (the writer's side; the promise does not keep a thread alive). */
  async wantedAbove(seen: number): Promise<void> {
    const r = (Atomics as unknown as WaitAsync).waitAsync(this.#cells, WANTED, BigInt(seen), Infinity);
    if (r.async) await r.value;
  }

  /** A reader waits for `target`: the writer commits into LMDB now rather than at its next round. */
  #want(target: bigint): void {
    if (Atomics.load(this.#cells, WANTED) < target) {
      Atomics.store(this.#cells, WANTED, target);
      Atomics.notify(this.#cells, WANTED);
    }
  }

  /**
   * Blocks this thread until LMDB holds every group durable now, at most
   * `timeoutMs` (a writer that cannot write must not hang readers: they then
   * read what LMDB has). Never call it on the writer's own thread.
   */
  catchUpSync(timeoutMs: number): boolean {
    const target = Atomics.load(this.#cells, DURABLE);
    const end = Date.now() + timeoutMs;
    if (Atomics.load(this.#cells, APPLIED) < target) this.#want(target);
    for (let w; (w = this.#behind(target, end)); ) Atomics.wait(this.#cells, APPLIED, w.applied, w.left);
    return this.#reached(target);
  }

  /** catchUpSync without blocking the thread. */
  async catchUp(timeoutMs: number): Promise<boolean> {
    const target = Atomics.load(this.#cells, DURABLE);
    const end = Date.now() + timeoutMs;
    if (Atomics.load(this.#cells, APPLIED) < target) this.#want(target);
    for (let w; (w = this.#behind(target, end)); ) {
      const r = (Atomics as unknown as WaitAsync).waitAsync(this.#cells, APPLIED, w.applied, w.left);
      if (r.async) await r.value;
    }
    return this.#reached(target);
  }

  /** Whether LMDB reached `target`; a read that gave up waiting is counted (a writer that stalls shows in /metrics). */
  #reached(target: bigint): boolean {
    const ok = Atomics.load(this.#cells, APPLIED) >= target;
    if (!ok) this.add('readWaitTimeouts', 1);
    return ok;
  }

  /** What is still to wait for: undefined once LMDB reached `target` or the time is up. */
  #behind(target: bigint, end: number): { applied: bigint; left: number } | undefined {
    const applied = Atomics.load(this.#cells, APPLIED);
    const left = end - Date.now();
    return applied >= target || left <= 0 ? undefined : { applied, left };
  }
}

/** Atomics.waitAsync (Node 16+; not in this TypeScript lib). */
interface WaitAsync {
  waitAsync(a: BigInt64Array, index: number, value: bigint, timeoutMs: number): { async: false; value: string } | { async: true; value: Promise<string> };
}
