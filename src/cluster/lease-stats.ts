import hdr from 'hdr-histogram-js';
import type { ClusterCounters } from './cluster-stats.js';
import type { Lease } from './lease-state.js';

// The lease manager's counters for GET /admin/cluster and /metrics:
// monotonic since start, plus the gauges computed when asked.

export type OpKind = keyof ClusterCounters['lease_ops'];

/** What the counters read from the rest of the manager when asked. */
export interface StatsSources {
  nodeId: string;
  redis: string;                    // redacted URL
  redisDown: 'closed' | 'open';
  ttlMs: number;
  link: { up: boolean; downSince: number | null; lastError: string | null; roundTrips: number; errors: number };
  leases: { size: number; values(): Iterable<Lease> };
}

export class LeaseStats {
  readonly ops: ClusterCounters['lease_ops'] = { acquire: 0, topup: 0, shortfall: 0, return: 0, report: 0, renew: 0, final: 0 };
  readonly counts = { shortfalls: 0, granted: 0, exhausted: 0, unavailable: 0, open: 0 };
  readonly #waits = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });

  /** How long one shortfall waited for its answer. */
  recordWait(ms: number): void {
    this.#waits.recordValue(Math.max(1, Math.round(ms * 1000)));
  }

  snapshot(now: number, s: StatsSources): ClusterCounters {
    let backlog = 0;
    let oldest = 0;
    for (const l of s.leases.values()) {
      if (l.dirty || l.spentAbs > l.published) {
        backlog++;
        if (l.unreportedSince && (!oldest || l.unreportedSince < oldest)) oldest = l.unreportedSince;
      }
    }
    const w = this.#waits;
    return {
      node_id: s.nodeId,
      redis: s.redis,
      redis_up: s.link.up,
      redis_down_since: s.link.downSince && !s.link.up ? new Date(s.link.downSince).toISOString() : null,
      redis_last_error: s.link.lastError,
      redis_down_policy: s.redisDown,
      lease_ttl_ms: s.ttlMs,
      budgets_leased: s.leases.size,
      shortfalls: this.counts.shortfalls,
      shortfalls_granted: this.counts.granted,
      shortfalls_exhausted: this.counts.exhausted,
      shortfalls_unavailable: this.counts.unavailable,
      shortfalls_open: this.counts.open,
      shortfall_wait_ms: {
        count: w.totalCount,
        p50: w.getValueAtPercentile(50) / 1000,
        p99: w.getValueAtPercentile(99) / 1000,
        max: w.maxValue / 1000,
      },
      redis_round_trips: s.link.roundTrips,
      redis_errors: s.link.errors,
      lease_ops: { ...this.ops },
      reconcile_backlog: backlog,
      reconcile_backlog_age_ms: oldest ? now - oldest : 0,
    };
  }
}
