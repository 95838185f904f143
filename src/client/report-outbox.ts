import type { UsageEvent } from './tollgate-api.js';

// Usage reports Tollgate could not take (unreachable, 5xx) wait here and are
// sent again every few seconds, and on flush(), under their idempotency key
// — so a retry that did reach Tollgate the first time is charged once. In
// memory only: a process that exits with reports pending loses them (call
// flushReports() before exiting). Bounded: past MAX_PENDING the oldest is
// given up, through onDrop, rather than growing without limit while
// Tollgate is down.

export type SendOutcome = 'sent' | 'retry' | 'drop';

const MAX_PENDING = 1000;
const RETRY_EVERY_MS = 5000;

export class ReportOutbox {
  readonly #pending = new Map<string, UsageEvent>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #flushing: Promise<number> | undefined;

  constructor(
    private readonly send: (event: UsageEvent) => Promise<SendOutcome>,
    private readonly onDrop: (event: UsageEvent) => void,
  ) {}

  get size(): number {
    return this.#pending.size;
  }

  keep(event: UsageEvent): void {
    if (this.#pending.size >= MAX_PENDING) {
      const [oldestKey, oldest] = this.#pending.entries().next().value as [string, UsageEvent];
      this.#pending.delete(oldestKey);
      this.onDrop(oldest);
    }
    this.#pending.set(event.idempotency_key, event);
    if (!this.#timer) {
      this.#timer = setInterval(() => void this.flush(), RETRY_EVERY_MS);
      this.#timer.unref?.();   // pending reports never keep an app alive
    }
  }

  /** Sends what is pending, oldest first, stopping at the first that must wait; resolves with how many still wait. */
  flush(): Promise<number> {
    this.#flushing ??= this.#drain().finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  async #drain(): Promise<number> {
    for (const [key, event] of [...this.#pending]) {
      const outcome = await this.send(event);
      if (outcome === 'retry') break;
      this.#pending.delete(key);
      if (outcome === 'drop') this.onDrop(event);
    }
    if (this.#pending.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
    return this.#pending.size;
  }
}
