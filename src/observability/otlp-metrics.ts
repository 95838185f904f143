import { ValueType, type Attributes, type HrTime } from '@opentelemetry/api';
import { AggregationTemporality, DataPointType, type DataPoint, type Histogram, type MetricData } from '@opentelemetry/sdk-metrics';
import type { PromJson } from './shard-instruments.js';

// The /metrics families as OpenTelemetry metric data, converted from the
// same merged prom-client registry the Prometheus text is rendered from, so
// the two exports cannot disagree. Names stay the Prometheus names
// (tollgate_requests_total, ...): one name per family whichever way it is
// read. Counters become cumulative monotonic sums that started when the
// exporter did; histograms keep their explicit buckets. Summaries (none
// today) and NaN samples (an unknown free-space reading) are left out.

type PromMetric = PromJson[number];
type PromValue = PromMetric['values'][number];

export function toOtlpMetrics(families: PromJson, start: HrTime, now: HrTime): MetricData[] {
  const out: MetricData[] = [];
  for (const f of families) {
    const descriptor = { name: f.name, description: f.help, unit: unitOf(f.name), valueType: ValueType.DOUBLE };
    const point = (v: PromValue): DataPoint<number> => ({ startTime: start, endTime: now, attributes: attributes(v.labels), value: v.value });
    const finite = f.values.filter((v) => Number.isFinite(v.value));
    switch (String(f.type)) {
      case 'counter':
        out.push({ descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.SUM, isMonotonic: true, dataPoints: finite.map(point) });
        break;
      case 'gauge':
        out.push({ descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.GAUGE, dataPoints: finite.map(point) });
        break;
      case 'histogram':
        out.push({ descriptor, aggregationTemporality: AggregationTemporality.CUMULATIVE, dataPointType: DataPointType.HISTOGRAM, dataPoints: histogramPoints(f, start, now) });
        break;
    }
  }
  return out;
}

/** Prometheus buckets are cumulative (`le`); OTLP counts each bucket on its own, with a last one above every bound. */
function histogramPoints(f: PromMetric, start: HrTime, now: HrTime): DataPoint<Histogram>[] {
  const series = new Map<string, { attributes: Attributes; bounds: Map<number, number>; sum: number; count: number }>();
  for (const v of f.values) {
    const { le, ...labels } = v.labels as Record<string, string | number | undefined>;
    const key = JSON.stringify(Object.entries(labels).sort(([a], [b]) => (a < b ? -1 : 1)));
    let s = series.get(key);
    if (!s) series.set(key, (s = { attributes: attributes(labels), bounds: new Map(), sum: 0, count: 0 }));
    const metric = (v as { metricName?: string }).metricName ?? '';
    if (metric.endsWith('_sum')) s.sum = v.value;
    else if (metric.endsWith('_count')) s.count = v.value;
    else if (le !== undefined && le !== '+Inf') s.bounds.set(Number(le), v.value);
  }
  return [...series.values()].map((s) => {
    const boundaries = [...s.bounds.keys()].sort((a, b) => a - b);
    const counts: number[] = [];
    let below = 0;
    for (const b of boundaries) {
      const cumulative = s.bounds.get(b)!;
      counts.push(cumulative - below);
      below = cumulative;
    }
    counts.push(Math.max(0, s.count - below));
    return { startTime: start, endTime: now, attributes: s.attributes, value: { buckets: { boundaries, counts }, sum: s.sum, count: s.count } };
  });
}

function attributes(labels: Record<string, string | number | undefined>): Attributes {
  const a: Attributes = {};
  for (const [k, v] of Object.entries(labels)) if (v !== undefined) a[k] = String(v);
  return a;
}

/** UCUM units OTLP backends expect, from the Prometheus naming convention. */
function unitOf(name: string): string {
  if (/_seconds(_total)?$/.test(name)) return 's';
  if (/_bytes(_total)?$/.test(name)) return 'By';
  return '';
}

/**
 * Cumulative series only go down when a shard was restarted (its counters
 * begin again at zero, and the process sums shards). OTLP says so with a new
 * start time; without it a backend would read a negative rate.
 */
export class ResetWatch {
  readonly #last = new Map<string, number>();

  /** True when any counter or histogram count is lower than in the previous call; remembers this call's values. */
  reset(metrics: MetricData[]): boolean {
    let down = false;
    for (const m of metrics) {
      if (m.dataPointType !== DataPointType.SUM && m.dataPointType !== DataPointType.HISTOGRAM) continue;
      for (const p of m.dataPoints) {
        const key = `${m.descriptor.name}${JSON.stringify(p.attributes)}`;
        const v = typeof p.value === 'number' ? p.value : (p.value as Histogram).count;
        const last = this.#last.get(key);
        if (last !== undefined && v < last) down = true;
        this.#last.set(key, v);
      }
    }
    return down;
  }
}
