// Time as the lease manager sees it. Injected, so lease batching, renewal,
// returns and expiry are unit-tested on a clock the test moves, without
// Redis and without waiting (test/cluster/lease-manager-*.test.ts).

export interface LeaseClock {
  /** Local wall-clock time, ms. */
  now(): number;
  /** Resolves after `ms` (the short wait for other nodes to give back recalled room). */
  sleep(ms: number): Promise<void>;
}

export const systemClock: LeaseClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};
