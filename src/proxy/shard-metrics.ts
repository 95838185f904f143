import hdr from 'hdr-histogram-js';
import { CustomerUsageTracker } from '../observability/customer-usage.js';
import { ShardInstruments, type ShardGaugeSources } from '../observability/shard-instruments.js';
import type { HistogramSeries } from '../observability/fast-histogram.js';
import type { ShardPromSnapshot } from '../observability/prometheus-text.js';

// Per-shard counters and the decision-latency histogram (nanoseconds).
// The supervisor merges every shard's snapshot on demand: /admin/stats from
// the plain fields, /metrics also from the Prometheus registry (`detail`).

export interface MetricsSnapshot {
  decisionHistogram: string; // hdr compressed base64
  requests: Record<string, number>;
  unpricedCalls: number;
  zeroCostCalls: number;
  reservationsOpen: number;
  inFlight: number;
  /** Present when the supervisor asked for it (a /metrics scrape). */
  detail?: ShardPromSnapshot;
}

/** Every shard's snapshot merged by the supervisor (GET /admin/stats). */
export interface ClusterStats extends MetricsSnapshot {
  decision: { count: number; p50_us: number; p99_us: number; p999_us: number; max_us: number };
}

export class ShardMetrics {
  readonly decision = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000_000, numberOfSignificantValueDigits: 3 });
  readonly requests = new Map<string, number>();
  /** Prometheus labels of each `requests` key, made once per key. */
  readonly #requestLabels = new Map<string, { endpoint: string; status: string; decision: string }>();
  unpricedCalls = 0;
  zeroCostCalls = 0;
  readonly prom: ShardInstruments;
  readonly #decisionSeries: HistogramSeries;
  readonly #upstreamSeries = new Map<string, HistogramSeries>();
  readonly customers = new CustomerUsageTracker();

  constructor(shard = 0, sources: ShardGaugeSources = { inFlight: () => 0, reservationsOpen: () => 0, tokenizerQueue: () => 0 }) {
    this.prom = new ShardInstruments(shard, {
      ...sources,
      requestCounts: () => [...this.requests].map(([k, n]) => ({ labels: this.#requestLabels.get(k)!, n })),
    });
    this.#decisionSeries = this.prom.decision.series();
  }

  recordDecision(ms: number): void {
    this.decision.recordValue(Math.max(1, Math.round(ms * 1e6)));
    this.#decisionSeries.observe(ms / 1000);
  }

  count(endpoint: string, status: number, decision: string): void {
    const k = this.#requestKey(endpoint, status, decision);
    const n = this.requests.get(k);
    if (n === undefined) this.#requestLabels.set(k, { endpoint, status: String(status), decision });
    this.requests.set(k, (n ?? 0) + 1);
  }

  /** Keys of `requests` by endpoint, status and decision: one string per combination, not one per call (a fresh one is hashed anew). */
  readonly #keys = new Map<string, Map<number, Map<string, string>>>();

  #requestKey(endpoint: string, status: number, decision: string): string {
    let byStatus = this.#keys.get(endpoint);
    if (!byStatus) this.#keys.set(endpoint, (byStatus = new Map()));
    let byDecision = byStatus.get(status);
    if (!byDecision) byStatus.set(status, (byDecision = new Map()));
    let k = byDecision.get(decision);
    if (k === undefined) byDecision.set(decision, (k = `${endpoint} ${status} ${decision}`));
    return k;
  }

  /** A call's upstream phase ended with an accepted answer from `targetId` ("provider/model") after `ms`. */
  recordUpstream(targetId: string, ms: number): void {
    let series = this.#upstreamSeries.get(targetId);
    if (!series) {
      series = this.prom.upstreamLatency.series(this.prom.target(targetId));
      // Ids past the label cap share one series; remember only the bounded set.
      if (this.#upstreamSeries.size < 1000) this.#upstreamSeries.set(targetId, series);
    }
    series.observe(ms / 1000);
  }

  /** An upstream attempt that did not answer, as the fallback loop recorded it ("HTTP 503", "ECONNREFUSED", "skipped: ..."). */
  recordUpstreamError(targetId: string, error: string): void {
    const kind = errorKind(error);
    if (kind) this.prom.upstreamErrors.inc({ ...this.prom.target(targetId), kind });
  }

  recordSpend(customer: string, costNano: number, promptTokens: number, completionTokens: number): void {
    this.customers.record(customer, costNano, promptTokens, completionTokens);
  }

  /** Ledger commit times (ms) taken from Ledger.commitSamples. */
  recordCommits(samples: number[]): void {
    for (const ms of samples) this.prom.ledgerCommit.observe(ms / 1000);
  }

  async snapshot(extra: { reservationsOpen: number; inFlight: number }, detail = false): Promise<MetricsSnapshot> {
    const s: MetricsSnapshot = {
      decisionHistogram: hdr.encodeIntoCompressedBase64(this.decision),
      requests: Object.fromEntries(this.requests),
      unpricedCalls: this.unpricedCalls,
      zeroCostCalls: this.zeroCostCalls,
      ...extra,
    };
    if (detail) {
      s.detail = { prom: await this.prom.json(), customers: this.customers.entries(), unpricedCalls: this.unpricedCalls, zeroCostCalls: this.zeroCostCalls };
    }
    return s;
  }

  reset(): void {
    this.decision.reset();
  }
}

/** A bounded label for an attempt's error; undefined for targets that were skipped rather than tried. */
function errorKind(error: string): string | undefined {
  if (error.startsWith('skipped') || error.startsWith('not translatable')) return undefined;
  const http = /^HTTP (\d{3})$/.exec(error);
  if (http) return `http_${http[1]}`;
  const code = /^([A-Za-z][A-Za-z0-9_]{1,39})(?::|$)/.exec(error);
  return code ? code[1] : 'other';
}
