// One target's circuit breaker. Closed: every call may go. After `failures`
// consecutive retryable failures it opens: the target is skipped until the
// cooldown ends. Then it is half-open: exactly one call (the probe) may go;
// its success closes the breaker, its failure opens it for another cooldown.
// An upstream 429 with retry-after opens it at once for that long, whatever
// the count. Time comes in as a parameter, so the states are testable
// without clocks or sockets.

export interface BreakerSettings {
  failures: number;
  cooldownMs: number;
}

export type BreakerState = 'closed' | 'open' | 'half_open';

/** What the breaker says about sending a call now. */
export type Admission =
  | { go: true; probe: boolean }
  | { go: false; until: number };

/** A retry-after longer than this is treated as this: a target is never parked for hours by one answer. */
const MAX_RETRY_AFTER_MS = 10 * 60_000;

export class CircuitBreaker {
  #consecutive = 0;
  #openUntil = 0;
  #open = false;
  #probing = false;

  constructor(public settings: BreakerSettings) {}

  state(now: number): BreakerState {
    if (!this.#open) return 'closed';
    return now < this.#openUntil ? 'open' : 'half_open';
  }

  get consecutiveFailures(): number {
    return this.#consecutive;
  }

  /** When the cooldown ends (0 when closed). */
  get openUntil(): number {
    return this.#open ? this.#openUntil : 0;
  }

  /** May a call be sent now? Claims the single probe slot when half-open. */
  admit(now: number): Admission {
    if (!this.#open) return { go: true, probe: false };
    if (now < this.#openUntil) return { go: false, until: this.#openUntil };
    if (this.#probing) return { go: false, until: this.#openUntil };
    this.#probing = true;
    return { go: true, probe: true };
  }

  /** True when the cooldown is over and no probe is out: the next call should be the probe. */
  probeReady(now: number): boolean {
    return this.#open && now >= this.#openUntil && !this.#probing;
  }

  /** Skipped while cooling down (a probe in flight also keeps others off). */
  blocked(now: number): boolean {
    return this.#open && (now < this.#openUntil || this.#probing);
  }

  succeeded(probe: boolean): void {
    if (probe) this.#probing = false;
    this.#consecutive = 0;
    this.#open = false;
  }

  /** A retryable failure; `retryAfterMs` (from a 429) opens the breaker for that long at once. */
  failed(now: number, probe: boolean, retryAfterMs?: number): void {
    if (probe) this.#probing = false;
    this.#consecutive++;
    if (retryAfterMs !== undefined && retryAfterMs > 0) {
      this.#openFor(now, Math.min(retryAfterMs, MAX_RETRY_AFTER_MS));
    } else if (probe || this.#consecutive >= this.settings.failures) {
      // A call that started before the breaker opened and fails later must
      // not push the cooldown further out: only count-triggered opens and
      // probes set it.
      if (probe || !this.#open) this.#openFor(now, this.settings.cooldownMs);
    }
  }

  /** The call ended without a verdict on the target (the client went away): free the probe slot. */
  abandoned(probe: boolean): void {
    if (probe) this.#probing = false;
  }

  #openFor(now: number, ms: number) {
    this.#open = true;
    this.#openUntil = Math.max(this.#openUntil, now + ms);
  }
}
