import type { HrTime } from '@opentelemetry/api';
import { OTLPMetricExporter } from '@opentelemetry/exporter-metrics-otlp-http';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type CollectionResult, type MetricProducer, type InstrumentType, type PushMetricExporter, type ResourceMetrics } from '@opentelemetry/sdk-metrics';
import type { Config } from '../config/schema.js';
import { ResetWatch, toOtlpMetrics } from './otlp-metrics.js';
import type { PromJson } from './shard-instruments.js';

// `otel:` pushes the /metrics families to an OTLP/HTTP receiver (JSON over
// HTTP) every `interval`, from the supervisor only: one exporter per
// process, reading the same merged registry a scrape renders. The SDK's own
// instruments are not used; a MetricProducer hands it the converted
// families on each collection (see otlp-metrics.ts).

export type OtelConfig = NonNullable<Config['otel']>;

/** The longest a final export may hold up shutdown. */
const SHUTDOWN_MS = 5_000;

export class OtelExport {
  readonly #provider: MeterProvider;
  readonly #log: (msg: string) => void;

  private constructor(provider: MeterProvider, log: (msg: string) => void) {
    this.#provider = provider;
    this.#log = log;
  }

  /** `collect`: the process's metric families, as /metrics would render them now. */
  static start(config: OtelConfig, collect: () => Promise<PromJson>, log: (msg: string) => void): OtelExport {
    const timeout = Math.min(config.interval, 10_000);
    const exporter = new LoggingExporter(new OTLPMetricExporter({ url: metricsUrl(config.endpoint), headers: { ...config.headers }, timeoutMillis: timeout }), config.endpoint, log);
    let started = hrTime();
    const resets = new ResetWatch();
    const producer: MetricProducer = {
      async collect(): Promise<CollectionResult> {
        const scope = { name: 'tollgate' };
        try {
          const families = await collect();
          const now = hrTime();
          let metrics = toOtlpMetrics(families, started, now);
          if (resets.reset(metrics)) metrics = toOtlpMetrics(families, (started = now), now);
          return { resourceMetrics: { resource: resourceFromAttributes({}), scopeMetrics: [{ scope, metrics }] }, errors: [] };
        } catch (err) {
          return { resourceMetrics: { resource: resourceFromAttributes({}), scopeMetrics: [] }, errors: [err] };
        }
      },
    };
    const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: config.interval, exportTimeoutMillis: timeout, metricProducers: [producer] });
    const provider = new MeterProvider({ resource: resourceFromAttributes({ 'service.name': 'tollgate' }), readers: [reader] });
    return new OtelExport(provider, log);
  }

  /** One last export (the calls that finished since the previous one), then stop; bounded so a dead receiver cannot hold up exit. */
  async shutdown(timeoutMs = SHUTDOWN_MS): Promise<void> {
    // The exporter retries a refused connection with backoff; past the bound the last push is given up, and said so.
    await this.#provider.shutdown({ timeoutMillis: timeoutMs }).catch((err: Error) =>
      this.#log(`warn: the last OTLP metrics export did not finish (${err.message}); the calls since the previous export are in the ledger but not in the collector`));
  }
}

function hrTime(ms = Date.now()): HrTime {
  return [Math.floor(ms / 1000), (ms % 1000) * 1e6];
}

/** `endpoint` is the receiver's base URL (as OTEL_EXPORTER_OTLP_ENDPOINT); the metrics path is added unless already there. */
export function metricsUrl(endpoint: string): string {
  const url = new URL(endpoint);
  if (!url.pathname.endsWith('/v1/metrics')) url.pathname = url.pathname.replace(/\/+$/, '') + '/v1/metrics';
  return url.toString();
}

/** Says once when exports start failing and once when they recover, instead of a line per interval (or silence: the SDK logs through a no-op diag). */
class LoggingExporter implements PushMetricExporter {
  #failing = false;

  constructor(private readonly inner: OTLPMetricExporter, private readonly endpoint: string, private readonly log: (msg: string) => void) {}

  export(metrics: ResourceMetrics, done: Parameters<PushMetricExporter['export']>[1]): void {
    this.inner.export(metrics, (result) => {
      const failed = result.code !== 0; // ExportResultCode.SUCCESS
      if (failed && !this.#failing) this.log(`warn: OTLP metrics export to ${this.endpoint} failed: ${result.error?.message ?? 'unknown error'} (retried every interval)`);
      if (!failed && this.#failing) this.log(`info: OTLP metrics export to ${this.endpoint} works again`);
      this.#failing = failed;
      done(result);
    });
  }

  forceFlush(): Promise<void> {
    return this.inner.forceFlush();
  }

  selectAggregationTemporality(type: InstrumentType) {
    return this.inner.selectAggregationTemporality(type);
  }

  shutdown(): Promise<void> {
    return this.inner.shutdown();
  }
}
