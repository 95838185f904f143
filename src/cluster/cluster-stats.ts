// What one node reports about its part in the cluster. The supervisor's
// lease manager keeps the counters (monotonic since start, except the
// gauges); GET /admin/cluster adds the shards' decision count to derive the
// per-call figures. /metrics can export the same object.

export interface ClusterCounters {
  node_id: string;
  redis: string;                    // URL, password redacted
  redis_up: boolean;                // gauge
  redis_down_since: string | null;  // ISO, while unreachable
  redis_last_error: string | null;
  redis_down_policy: 'closed' | 'open';
  lease_ttl_ms: number;
  budgets_leased: number;           // gauge: budgets this node holds a lease on
  /** Decisions that found this node's lease short and asked the supervisor for more. */
  shortfalls: number;
  shortfalls_granted: number;       // ... and got room: the call was decided again
  shortfalls_exhausted: number;     // ... and the global budget had none: 402
  shortfalls_unavailable: number;   // ... while Redis was unreachable, redisDown closed: 503
  shortfalls_open: number;          // ... while Redis was unreachable, redisDown open: decided on local accounting
  shortfall_wait_ms: { count: number; p50: number; p99: number; max: number };
  redis_round_trips: number;        // pipelines sent (each carries any number of budgets)
  redis_errors: number;
  lease_ops: { acquire: number; topup: number; shortfall: number; return: number; report: number; renew: number; final: number };
  /** Gauge: budgets whose settled spend (this node's ledger) Redis has not confirmed yet. */
  reconcile_backlog: number;
  /** Gauge: age of the oldest spend Redis has not confirmed, ms (0: none). */
  reconcile_backlog_age_ms: number;
  /** Velocity windows, idempotency keys and alerts decided once per cluster (global-state.ts). */
  global?: GlobalCounters;
}

export interface GlobalCounters {
  /** Windows this node holds grants in; grants Redis made; calls refused because the window was full cluster-wide; how long calls waited for a grant. */
  windows: { windows: number; grants: number; refusals: number; grant_wait_ms: { count: number; p50: number; p99: number; max: number } };
  /** Charged outcomes waiting for Redis to come back; dropped past the cap. */
  idempotency: { unsent: number; dropped: number };
  /** Outbox: delivered by this node, found delivered by another node, still pending here. */
  alerts: { delivered: number; delivered_by_other_nodes: number; pending: number };
}

export interface ClusterView extends ClusterCounters {
  enabled: true;
  decisions: number;
  /** Share of decisions served from the lease in memory, without waiting on Redis. */
  lease_hit_rate: number;
  /** Redis round trips per decision, every kind of trip included. */
  redis_round_trips_per_call: number;
}

export function clusterView(c: ClusterCounters, decisions: number): ClusterView {
  return {
    enabled: true,
    ...c,
    decisions,
    lease_hit_rate: decisions > 0 ? Math.max(0, 1 - c.shortfalls / decisions) : 1,
    redis_round_trips_per_call: decisions > 0 ? c.redis_round_trips / decisions : 0,
  };
}
