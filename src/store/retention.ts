import type { Ledger } from './ledger.js';

// Usage-row retention. Rows older than the configured age are deleted in
// small batches — one short write transaction each, with a pause between —
// so compaction never holds the LMDB write lock or an event loop for long
// and serving goes on meanwhile. Aggregates and report indexes are kept:
// budgets and billing reports stay whole after the rows behind them go.
// Idempotency keys older than the idempotency window go the same way.

export interface RetentionOptions {
  usageRowsMs: number | undefined; // undefined: keep every row
  idempotencyWindowMs: number;
  everyMs: number;
  batchSize: number;
  pauseMs?: number;
}

export interface CompactionResult { rows: number; idempotencyKeys: number; ms: number }

export class Retention {
  #timer: NodeJS.Timeout | undefined;
  #running: Promise<CompactionResult> | undefined;
  #stopped = false;

  constructor(
    private readonly ledger: Ledger,
    private readonly opts: RetentionOptions,
    private readonly log: (msg: string, fields: Record<string, unknown>) => void = () => {},
    private readonly now: () => number = Date.now,
  ) {}

  /** Compacts now and then every `everyMs` (first pass after `firstDelayMs`). */
  start(firstDelayMs = 5_000): void {
    const tick = () => {
      if (this.#stopped) return;
      void this.compact().finally(() => {
        if (!this.#stopped) this.#timer = setTimeout(tick, this.opts.everyMs).unref();
      });
    };
    this.#timer = setTimeout(tick, firstDelayMs).unref();
  }

  /** Stops scheduling; resolves when a pass in progress has ended its current batch. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#running?.catch(() => {});
  }

  /** One full pass. Concurrent callers share the pass in progress. */
  compact(): Promise<CompactionResult> {
    this.#running ??= this.#pass().finally(() => (this.#running = undefined));
    return this.#running;
  }

  async #pass(): Promise<CompactionResult> {
    const t0 = performance.now();
    const { batchSize } = this.opts;
    const pause = () => new Promise((r) => setTimeout(r, this.opts.pauseMs ?? 5));
    let rows = 0;
    let keys = 0;
    try {
      if (this.opts.usageRowsMs !== undefined) {
        const cutoff = this.now() - this.opts.usageRowsMs;
        for (;;) {
          if (this.#stopped) break;
          const n = await this.ledger.deleteRowsBefore(cutoff, batchSize);
          rows += n;
          if (n < batchSize) break;
          await pause();
        }
      }
      const keyCutoff = this.now() - this.opts.idempotencyWindowMs;
      let after: [string, string] | undefined;
      do {
        if (this.#stopped) break;
        const r = await this.ledger.deleteIdempotencyBefore(keyCutoff, after, batchSize);
        keys += r.deleted;
        after = r.next;
        if (after) await pause();
      } while (after);
    } catch (err) {
      this.log('retention pass failed', { error: String(err) });
    }
    const ms = Math.round(performance.now() - t0);
    if (rows || keys) this.log('retention pass', { rows_deleted: rows, idempotency_keys_deleted: keys, ms });
    return { rows, idempotencyKeys: keys, ms };
  }
}
