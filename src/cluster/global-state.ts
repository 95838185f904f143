import type { Config } from '../config/schema.js';
import type { RateWindows } from '../policy/rate-windows.js';
import type { MainToShard, ShardToMain } from '../server/messages.js';
import type { RedisLink } from './redis-link.js';
import type { ClusterCounters } from './cluster-stats.js';
import { WindowLeases } from './window-leases.js';
import { IdempotencyLeases } from './idempotency-leases.js';
import { claimHoldMs } from '../proxy/idempotency-claims.js';
import { AlertClaims } from './alert-claims.js';
import { Lockouts } from './lockouts.js';
import { LoopCounts } from './loop-counts.js';
import { AuthFailureLimiter } from '../admin/auth-failure-limiter.js';

// The main thread's cluster pieces beyond budget leases (issue 15): velocity
// windows leased from Redis, loop-guard counts, idempotency claims, alert
// claims and admin lockouts shared between nodes. All share the lease manager's one Redis
// connection, so whatever they ask in one event turn is one round trip.

export class GlobalState {
  readonly windows: WindowLeases;
  readonly idempotency: IdempotencyLeases;
  readonly alerts: AlertClaims;
  readonly lockouts: Lockouts;
  readonly loops: LoopCounts;
  #timer: NodeJS.Timeout | undefined;

  private constructor(readonly config: Config, readonly link: RedisLink, windows: RateWindows, nodeId: string, authFailures: SharedArrayBuffer) {
    const c = config.cluster;
    this.windows = new WindowLeases(windows, link, { keyPrefix: c.keyPrefix, open: c.redisDown === 'open', ppm: Math.round((c.leaseFraction / 2) * 1e6) });
    // A delivery a node claimed and did not finish (killed mid-send) goes to another node after three lease TTLs.
    this.alerts = new AlertClaims(link, { nodeId, keyPrefix: c.keyPrefix, claimTtlMs: 3 * c.leaseTtl, open: c.redisDown === 'open' });
    this.loops = new LoopCounts(link, c.keyPrefix);
    this.lockouts = new Lockouts(new AuthFailureLimiter(config.limits.adminAuthFailuresPerMinute, authFailures), link, c.keyPrefix);
    this.idempotency = new IdempotencyLeases(link, { keyPrefix: c.keyPrefix, holdMs: claimHoldMs(config), windowMs: config.idempotencyWindow });
  }

  /** `authFailures`: the shards' shared table of failed token attempts (auth-failure-limiter.ts). */
  static start(config: Config, link: RedisLink, windows: RateWindows, authFailures: SharedArrayBuffer, nodeId: string, log: (m: string) => void): GlobalState {
    const g = new GlobalState(config, link, windows, nodeId, authFailures);
    g.#timer = setInterval(() => g.windows.sync(Date.now()), config.cluster.flushInterval);
    g.#timer.unref();
    log(`cluster: velocity windows, idempotency claims, alert claims and admin lockouts shared through Redis (redisDown ${config.cluster.redisDown})`);
    return g;
  }

  /** The lease manager's counters, and the outbox's (set once alerting exists), for /admin/cluster. */
  counters: { leases: () => ClusterCounters; alerts: () => { delivered: number; delivered_by_other_nodes: number; pending: number } } | undefined;

  /** Handles the shards' requests for global state (and /admin/cluster's counters); false for any other message. */
  onMessage(m: ShardToMain, post: (m: MainToShard) => void): boolean {
    if (m.t === 'cluster-stats' && this.counters) {
      const { leases, alerts } = this.counters;
      const { delivered, delivered_by_other_nodes, pending } = alerts();
      post({ t: 'cluster-stats-answer', id: m.id, counters: { ...leases(), global: { windows: this.windows.stats, idempotency: this.idempotency.stats, alerts: { delivered, delivered_by_other_nodes, pending } } } });
      return true;
    }
    return this.windows.onMessage(m, post) || this.idempotency.onMessage(m, post) || this.lockouts.onMessage(m, post) || this.loops.onMessage(m, post);
  }

  /** Before the lease manager closes the connection: hand back what the windows hold unused (bounded wait). */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    if (!this.link.up) return;
    this.windows.sync(Date.now(), true);
    // A PING in the same pipeline answers once the returns were applied.
    const sent = this.link.command((p) => p.ping()).catch(() => undefined);
    await Promise.race([sent, new Promise((r) => setTimeout(r, 2 * this.config.cluster.redisTimeout).unref())]);
  }
}
