import { Counter, Gauge, Histogram, Registry, type MetricObjectWithValues, type MetricValue } from 'prom-client';
import { BoundedLabels, OTHER } from './bounded-labels.js';
import { FastHistogram } from './fast-histogram.js';
import { EventLoopLag } from './event-loop-lag.js';

// One shard's Prometheus instruments. Every shard records into its own
// registry; on a scrape the supervisor collects each registry as JSON and
// sums them (prom-client's AggregatorRegistry), so /metrics answers for the
// whole process whichever shard the scrape landed on. Gauges that describe
// one shard carry a `shard` label, so summing keeps them apart.

export type PromJson = MetricObjectWithValues<MetricValue<string>>[];

const us = (v: number) => v / 1e6;

/**
 * Decision-latency buckets, in seconds: 1 µs to 100 ms, dense where the
 * decision lives (a few µs to a few hundred µs), so histogram_quantile()
 * over them lands within one bucket of the hdr-histogram percentiles that
 * /admin/stats and `npm run bench` print.
 */
export const DECISION_BUCKETS = [
  1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 25, 30, 40, 50, 60, 80, 100, 125, 150, 200, 250, 300, 400, 500, 750,
  1000, 1500, 2000, 3000, 5000, 10_000, 20_000, 100_000,
].map(us);

const UPSTREAM_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600];
const COMMIT_BUCKETS = [50, 100, 200, 300, 500, 750, 1000, 1500, 2000, 3000, 5000, 7500, 10_000, 25_000, 50_000, 100_000, 250_000, 1_000_000].map(us);

/** What a shard's gauges read when scraped. */
export interface ShardGaugeSources {
  inFlight(): number;
  reservationsOpen(): number;
  tokenizerQueue(): number;
  /** Calls answered so far per label set; the requests counter is read from it at scrape time, not incremented per call. */
  requestCounts?(): Iterable<{ labels: { endpoint: string; status: string; decision: string }; n: number }>;
}

export class ShardInstruments {
  readonly registry = new Registry();
  readonly requests: Counter<'endpoint' | 'status' | 'decision'>;
  readonly decision: FastHistogram;
  readonly upstreamLatency: FastHistogram<'provider' | 'target'>;
  readonly upstreamErrors: Counter<'provider' | 'target' | 'kind'>;
  readonly invalidUsage: Counter<'provider'>;
  readonly usageFallbacks: Counter<'source'>;
  readonly budgetCuts: Counter<string>;
  readonly shadowExceeded: Counter<'unit' | 'period'>;
  readonly ledgerCommit: Histogram;
  readonly #targets = new BoundedLabels(200);
  readonly #targetLabels = new Map<string, { provider: string; target: string }>();
  readonly #lag = new EventLoopLag();

  constructor(shard: number, sources: ShardGaugeSources) {
    const registers = [this.registry];
    const shardLabel = { shard: String(shard) };
    const requestCounts = sources.requestCounts;
    this.requests = new Counter({
      name: 'tollgate_requests_total',
      help: 'Model calls answered, by endpoint, HTTP status and decision (allowed, refused, blocked, upstream_error, ...).',
      labelNames: ['endpoint', 'status', 'decision'],
      registers,
      collect: requestCounts && function (this: Counter<'endpoint' | 'status' | 'decision'>) {
        this.reset();
        for (const { labels, n } of requestCounts()) this.inc(labels, n);
      },
    });
    this.decision = new FastHistogram({
      name: 'tollgate_decision_latency_seconds',
      help: 'Time of the in-memory enforcement decision (reserve on every budget in scope).',
      buckets: DECISION_BUCKETS,
      registers,
    });
    this.upstreamLatency = new FastHistogram({
      name: 'tollgate_upstream_latency_seconds',
      help: 'Time from the first upstream attempt of a call to its accepted answer (a stream\'s first chunk, else the whole body), per answering provider and target.',
      labelNames: ['provider', 'target'],
      buckets: UPSTREAM_BUCKETS,
      registers,
    });
    this.upstreamErrors = new Counter({
      name: 'tollgate_upstream_errors_total',
      help: 'Upstream attempts that failed (connect error, timeout, 429, 5xx, cut stream, ...), per provider and target.',
      labelNames: ['provider', 'target', 'kind'],
      registers,
    });
    this.invalidUsage = new Counter({
      name: 'tollgate_invalid_provider_usage_total',
      help: 'Answers whose reported usage was missing a field, negative, not an integer or impossible for the call; billed from Tollgate\'s own count.',
      labelNames: ['provider'],
      registers,
    });
    this.usageFallbacks = new Counter({
      name: 'tollgate_usage_counted_total',
      help: 'Calls billed from Tollgate\'s own count instead of the provider\'s usage (source tokenizer: exact count; estimate: an upper bound).',
      labelNames: ['source'],
      registers,
    });
    this.budgetCuts = new Counter({
      name: 'tollgate_budget_cut_total',
      help: 'Streams ended at the budget with the protocol\'s "cap reached" ending (row reason budget_cut): the output passed a hold no budget could grow.',
      registers,
    });
    this.shadowExceeded = new Counter({
      name: 'tollgate_shadow_budget_exceeded_total',
      help: 'Calls a shadow budget (enforce: false) would have refused and that were served, by the budget\'s unit and period.',
      labelNames: ['unit', 'period'],
      registers,
    });
    this.ledgerCommit = new Histogram({
      name: 'tollgate_ledger_commit_seconds',
      help: 'Time a shard\'s batch of usage rows waited to be durable in the ledger journal (the client waits for it before the end of its answer).',
      buckets: COMMIT_BUCKETS,
      registers,
    });
    const gauge = (name: string, help: string, read: () => number) => new Gauge({
      name, help, labelNames: ['shard'], registers,
      collect() {
        this.set(shardLabel, read());
      },
    });
    gauge('tollgate_calls_in_flight', 'Model calls in progress on the shard.', sources.inFlight);
    gauge('tollgate_reservations_outstanding', 'Budget holds not yet settled or released on the shard.', sources.reservationsOpen);
    gauge('tollgate_tokenizer_queue', 'Token-counting tasks waiting for the tokenizer pool of the shard.', sources.tokenizerQueue);
    const lag = this.#lag;
    new Gauge({
      name: 'tollgate_event_loop_lag_seconds',
      help: 'Event-loop delay of the thread since the previous scrape (quantile 0.5, 0.99, and max).',
      labelNames: ['shard', 'quantile'],
      registers,
      collect() {
        const r = lag.read();
        this.set({ ...shardLabel, quantile: '0.5' }, r.p50);
        this.set({ ...shardLabel, quantile: '0.99' }, r.p99);
        this.set({ ...shardLabel, quantile: 'max' }, r.max);
      },
    });
  }

  /** Labels of a target id ("provider/model"), with bounded cardinality (an unrouted model is named by the client). */
  target(targetId: string): { provider: string; target: string } {
    let labels = this.#targetLabels.get(targetId);
    if (!labels) {
      const slash = targetId.indexOf('/');
      labels = { provider: slash < 0 ? targetId : targetId.slice(0, slash), target: this.#targets.label(targetId) };
      // Ids past the label cap all map to OTHER; only those under it are worth remembering.
      if (labels.target !== OTHER) this.#targetLabels.set(targetId, labels);
    }
    return labels;
  }

  json(): Promise<PromJson> {
    return this.registry.getMetricsAsJSON();
  }

  stop(): void {
    this.#lag.stop();
  }
}
