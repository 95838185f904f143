// Throttles guessing of the admin token: after `max` failed attempts from one
// client address within a minute, that address gets 429 (without its token
// being checked) until the minute is over. Per shard, so a process with N
// shards allows up to N × max guesses a minute; the token's entropy, not this
// limit, is what makes guessing hopeless — the limit keeps logs and CPU calm.
// Behind a load balancer every client shares its address: a flood of bad
// tokens then locks the admin API for a minute for everyone (fail closed).

const WINDOW_MS = 60_000;
const MAX_TRACKED = 10_000;

export class AuthFailureLimiter {
  readonly #byAddress = new Map<string, { count: number; start: number }>();

  constructor(private readonly max: number) {}

  /** Seconds to wait when `address` is locked out, else 0. */
  blockedFor(address: string, now: number): number {
    const e = this.#byAddress.get(address);
    if (!e || now - e.start >= WINDOW_MS) return 0;
    return e.count >= this.max ? Math.ceil((e.start + WINDOW_MS - now) / 1000) : 0;
  }

  fail(address: string, now: number): void {
    let e = this.#byAddress.get(address);
    if (!e || now - e.start >= WINDOW_MS) {
      if (!e && this.#byAddress.size >= MAX_TRACKED) this.#prune(now);
      this.#byAddress.set(address, (e = { count: 0, start: now }));
    }
    e.count++;
  }

  #prune(now: number): void {
    for (const [k, e] of this.#byAddress) if (now - e.start >= WINDOW_MS) this.#byAddress.delete(k);
    // Still full of live entries (a spray from many addresses): start over rather than grow.
    if (this.#byAddress.size >= MAX_TRACKED) this.#byAddress.clear();
  }
}
