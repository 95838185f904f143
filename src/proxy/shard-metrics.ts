import hdr from 'hdr-histogram-js';

// Per-shard counters and the decision-latency histogram (nanoseconds).
// The supervisor merges every shard's snapshot on demand.

export interface MetricsSnapshot {
  decisionHistogram: string; // hdr compressed base64
  requests: Record<string, number>;
  unpricedCalls: number;
  zeroCostCalls: number;
  reservationsOpen: number;
  inFlight: number;
}

/** Every shard's snapshot merged by the supervisor (GET /admin/stats). */
export interface ClusterStats extends MetricsSnapshot {
  decision: { count: number; p50_us: number; p99_us: number; p999_us: number; max_us: number };
}

export class ShardMetrics {
  readonly decision = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: 3 });
  readonly requests = new Map<string, number>();
  unpricedCalls = 0;
  zeroCostCalls = 0;

  recordDecision(ms: number): void {
    this.decision.recordValue(Math.max(1, Math.round(ms * 1e6)));
  }

  count(endpoint: string, status: number, decision: string): void {
    const k = `${endpoint} ${status} ${decision}`;
    this.requests.set(k, (this.requests.get(k) ?? 0) + 1);
  }

  snapshot(extra: { reservationsOpen: number; inFlight: number }): MetricsSnapshot {
    return {
      decisionHistogram: hdr.encodeIntoCompressedBase64(this.decision),
      requests: Object.fromEntries(this.requests),
      unpricedCalls: this.unpricedCalls,
      zeroCostCalls: this.zeroCostCalls,
      ...extra,
    };
  }

  reset(): void {
    this.decision.reset();
  }
}
