import { RowBatchEncoder } from './row-codec.js';
import type { UsageRecord } from './usage-record.js';

// The appending side of the ledger on a shard: rows of one event-loop turn
// are encoded into one binary batch and handed to the writer (journal-writer.ts)
// in one message; every append of the batch shares one promise, resolved when
// the writer says the batch is durable. A batch the writer cannot make
// durable within the commit timeout is rejected (its client gets an error);
// the writer keeps its rows and writes them when the disk accepts them.

/** A row's commit failed (disk full, I/O error) and was not retried successfully within the commit timeout. */
export class LedgerUnavailableError extends Error {
  readonly code = 'TG_LEDGER_UNAVAILABLE';
}

/** Hands a batch to the writer; the writer answers with acked(seq) once it is durable. */
export type SendBatch = (batch: Buffer, rows: number, seq: number) => void;

interface Batch {
  seq: number;
  done: Promise<void>;
  resolve: () => void;
  reject: (e: unknown) => void;
  sentAt: number;
}

export class RowBatcher {
  readonly #encoder = new RowBatchEncoder();
  #current: Batch | undefined;
  /** Sent, not yet acknowledged, oldest first. */
  #waiting: Batch[] = [];
  #seq = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Time (ms) each batch waited for its acknowledgement: the commit latency clients wait. */
  commitSamples: number[] = [];

  constructor(private readonly send: SendBatch, private readonly commitTimeoutMs = 10_000) {}

  append(row: UsageRecord): Promise<void> {
    this.#encoder.add(row);
    if (!this.#current) {
      let resolve!: () => void;
      let reject!: (e: unknown) => void;
      const done = new Promise<void>((res, rej) => {
        resolve = res;
        reject = rej;
      });
      this.#current = { seq: 0, done, resolve, reject, sentAt: 0 };
      setImmediate(() => this.#sendCurrent());
    }
    return this.#current.done;
  }

  #sendCurrent(): void {
    const b = this.#current;
    if (!b) return;
    this.#current = undefined;
    b.seq = ++this.#seq;
    b.sentAt = performance.now();
    this.#waiting.push(b);
    this.#timer ??= setInterval(() => this.#expire(), 100).unref();
    const rows = this.#encoder.rows;
    this.send(this.#encoder.take(), rows, b.seq);
  }

  /** The writer made every batch up to `seq` durable. */
  acked(seq: number): void {
    const now = performance.now();
    let n = 0;
    while (n < this.#waiting.length && this.#waiting[n]!.seq <= seq) {
      const b = this.#waiting[n++]!;
      if (this.commitSamples.length < 4096) this.commitSamples.push(now - b.sentAt);
      b.resolve();
    }
    if (n) this.#waiting.splice(0, n);
    // The timer stays until a check finds nothing waiting: under load every batch is acknowledged before the next is sent,
    // and stopping it here would start and stop a timer per batch.
  }

  #expire(now = performance.now()): void {
    let n = 0;
    while (n < this.#waiting.length && now - this.#waiting[n]!.sentAt >= this.commitTimeoutMs) n++;
    if (n) {
      for (const b of this.#waiting.splice(0, n)) {
        b.reject(new LedgerUnavailableError('the usage ledger could not commit this call\'s row in time (disk full or write error); the row is held and will be written when the disk accepts it'));
      }
    }
    this.#idle();
  }

  #idle(): void {
    if (!this.#waiting.length && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  /** Shutdown: calls still waiting get an error now rather than at the commit timeout (the writer keeps their rows). */
  stopWaiting(reason: string): number {
    const w = this.#waiting.splice(0);
    for (const b of w) b.reject(new LedgerUnavailableError(reason));
    this.#idle();
    return w.length;
  }

  /** Sends the open batch now and resolves once every sent batch is acknowledged or has failed. */
  async flush(): Promise<void> {
    this.#sendCurrent();
    await Promise.allSettled(this.#waiting.map((b) => b.done));
  }
}
