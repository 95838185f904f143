import type { Config } from '../config/schema.js';
import type { RateWindows } from '../policy/rate-windows.js';
import type { MainToShard, ShardToMain } from '../server/messages.js';
import type { RedisLink } from './redis-link.js';
import { WindowLeases } from './window-leases.js';
import { IdempotencyLeases } from './idempotency-leases.js';
import { claimHoldMs } from '../proxy/idempotency-claims.js';

// The main thread's cluster pieces beyond budget leases (issue 15): velocity
// windows leased from Redis, idempotency claims, alert claims and admin
// lockouts shared between nodes. All share the lease manager's one Redis
// connection, so whatever they ask in one event turn is one round trip.

export class GlobalState {
  readonly windows: WindowLeases;
  readonly idempotency: IdempotencyLeases;
  #timer: NodeJS.Timeout | undefined;

  private constructor(readonly config: Config, readonly link: RedisLink, windows: RateWindows) {
    const c = config.cluster;
    this.windows = new WindowLeases(windows, link, { keyPrefix: c.keyPrefix, open: c.redisDown === 'open', ppm: Math.round((c.leaseFraction / 2) * 1e6) });
    this.idempotency = new IdempotencyLeases(link, { keyPrefix: c.keyPrefix, holdMs: claimHoldMs(config), windowMs: config.idempotencyWindow });
  }

  static start(config: Config, link: RedisLink, windows: RateWindows, log: (m: string) => void): GlobalState {
    const g = new GlobalState(config, link, windows);
    g.#timer = setInterval(() => g.windows.sync(Date.now()), config.cluster.flushInterval);
    g.#timer.unref();
    log(`cluster: velocity windows, idempotency claims, alert claims and admin lockouts shared through Redis (redisDown ${config.cluster.redisDown})`);
    return g;
  }

  /** Handles the shards' requests for global state; false for any other message. */
  onMessage(m: ShardToMain, post: (m: MainToShard) => void): boolean {
    return this.windows.onMessage(m, post) || this.idempotency.onMessage(m, post);
  }

  /** Before the lease manager closes the connection: hand back what the windows hold unused. */
  stop(): void {
    clearInterval(this.#timer);
    this.windows.sync(Date.now(), true);
  }
}
