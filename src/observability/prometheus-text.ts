import { AggregatorRegistry, Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { EventLoopLag } from './event-loop-lag.js';
import { customerSeries, type CustomerUsage, type CustomerUsageEntry } from './customer-usage.js';
import type { PromJson } from './shard-instruments.js';

// GET /metrics: the Prometheus text of the whole process, rendered on the
// main thread from every shard's snapshot. Shard registries are summed;
// what only makes sense across shards (per-customer top N) or belongs to the
// process (CPU, memory, the main thread's loop) is added here.

export interface ShardPromSnapshot {
  prom: PromJson;
  customers: CustomerUsageEntry[];
  unpricedCalls: number;
  zeroCostCalls: number;
}

export interface CustomerSeriesOptions {
  top: number;
  include: readonly string[];
}

export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** The main thread's own metrics: process CPU/memory/handles and its event-loop lag. */
export class ProcessMetrics {
  readonly registry = new Registry();
  readonly #lag = new EventLoopLag();

  constructor(shardCount: () => number) {
    collectDefaultMetrics({ register: this.registry, prefix: 'tollgate_process_', eventLoopMonitoringPrecision: 10 });
    const lag = this.#lag;
    new Gauge({
      name: 'tollgate_main_event_loop_lag_seconds',
      help: 'Event-loop delay of the main (supervisor) thread since the previous scrape.',
      labelNames: ['quantile'],
      registers: [this.registry],
      collect() {
        const r = lag.read();
        this.set({ quantile: '0.5' }, r.p50);
        this.set({ quantile: '0.99' }, r.p99);
        this.set({ quantile: 'max' }, r.max);
      },
    });
    new Gauge({
      name: 'tollgate_shards',
      help: 'Shard worker threads serving the port.',
      registers: [this.registry],
      collect() {
        this.set(shardCount());
      },
    });
  }

  stop(): void {
    this.#lag.stop();
  }
}

/**
 * Every metric family of the process, as one registry: the shards' registries
 * summed, the cross-shard series, and `extra` (the process's, the ledger's).
 * /metrics renders it as text; the OTLP export reads it as JSON, so both carry
 * the same families.
 */
export function metricsRegistry(shards: ShardPromSnapshot[], customers: CustomerSeriesOptions, extra: Registry[]): Registry {
  const summed = AggregatorRegistry.aggregate(shards.map((s) => s.prom));
  const cluster = new Registry();
  const registers = [cluster];

  const counter = (name: string, help: string, value: number) => new Counter({ name, help, registers }).inc(value);
  counter('tollgate_unpriced_calls_total', 'Calls to a model with no price in the table (recorded, priced by the fallback rule).', sum(shards, (s) => s.unpricedCalls));
  counter('tollgate_zero_cost_calls_total', 'Calls with tokens that were priced at zero.', sum(shards, (s) => s.zeroCostCalls));

  const series = customerSeries(shards.map((s) => s.customers), customers.top, customers.include);
  counter('tollgate_spend_usd_total', 'Cost of every settled call, in USD (list price of the model that answered).', series.total.costNano / 1e9);
  const tokens = new Counter({ name: 'tollgate_tokens_total', help: 'Tokens of every settled call, by kind.', labelNames: ['kind'], registers });
  tokens.inc({ kind: 'prompt' }, series.total.promptTokens);
  tokens.inc({ kind: 'completion' }, series.total.completionTokens);

  const spend = new Counter({ name: 'tollgate_customer_spend_usd_total', help: `Spend per customer, in USD: the top ${customers.top} by spend and the configured ones; everyone else as customer="__other__".`, labelNames: ['customer'], registers });
  const ctokens = new Counter({ name: 'tollgate_customer_tokens_total', help: 'Tokens per customer (same customers as tollgate_customer_spend_usd_total), by kind.', labelNames: ['customer', 'kind'], registers });
  const calls = new Counter({ name: 'tollgate_customer_calls_total', help: 'Settled calls per customer (same customers as tollgate_customer_spend_usd_total).', labelNames: ['customer'], registers });
  const publish = (customer: string, u: CustomerUsage) => {
    spend.inc({ customer }, u.costNano / 1e9);
    ctokens.inc({ customer, kind: 'prompt' }, u.promptTokens);
    ctokens.inc({ customer, kind: 'completion' }, u.completionTokens);
    calls.inc({ customer }, u.calls);
  };
  for (const [id, u] of series.named) publish(id, u);
  if (series.other.calls > 0) publish('__other__', series.other);

  return Registry.merge([summed as Registry, cluster, ...extra]);
}

function sum<T>(list: T[], f: (x: T) => number): number {
  let n = 0;
  for (const x of list) n += f(x);
  return n;
}
