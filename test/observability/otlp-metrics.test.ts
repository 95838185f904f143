import { describe, expect, it } from 'vitest';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { DataPointType, type HistogramMetricData, type SumMetricData, type GaugeMetricData } from '@opentelemetry/sdk-metrics';
import { ResetWatch, toOtlpMetrics } from '../../src/observability/otlp-metrics.js';
import { FastHistogram } from '../../src/observability/fast-histogram.js';

// The conversion of the /metrics registry to OTLP metric data (no sockets:
// real prom-client instruments in, SDK metric data out).

const T0: [number, number] = [1_700_000_000, 0];
const T1: [number, number] = [1_700_000_060, 0];

async function families(fill: (registers: Registry[]) => void) {
  const r = new Registry();
  fill([r]);
  return r.getMetricsAsJSON();
}

describe('toOtlpMetrics', () => {
  it('turns counters into cumulative monotonic sums with their labels as attributes', async () => {
    const json = await families((registers) => {
      const c = new Counter({ name: 'x_requests_total', help: 'h', labelNames: ['endpoint', 'status'], registers });
      c.inc({ endpoint: 'chat', status: '200' }, 5);
      c.inc({ endpoint: 'chat', status: '402' }, 2);
    });
    const [m] = toOtlpMetrics(json, T0, T1) as SumMetricData[];
    expect(m).toMatchObject({ dataPointType: DataPointType.SUM, isMonotonic: true, descriptor: { name: 'x_requests_total', description: 'h' } });
    expect(m!.dataPoints.map((p) => [p.attributes, p.value, p.startTime, p.endTime])).toEqual([
      [{ endpoint: 'chat', status: '200' }, 5, T0, T1],
      [{ endpoint: 'chat', status: '402' }, 2, T0, T1],
    ]);
  });

  it('turns cumulative Prometheus buckets into per-bucket counts with an overflow bucket', async () => {
    const json = await families((registers) => {
      const h = new Histogram({ name: 'x_latency_seconds', help: 'h', buckets: [0.1, 1, 10], registers });
      for (const v of [0.05, 0.5, 0.7, 5, 50, 60]) h.observe(v);
    });
    const [m] = toOtlpMetrics(json, T0, T1) as HistogramMetricData[];
    expect(m!.descriptor.unit).toBe('s');
    expect(m!.dataPoints[0]!.value).toEqual({ buckets: { boundaries: [0.1, 1, 10], counts: [1, 2, 1, 2] }, sum: 116.25, count: 6 });
  });

  it('reads the call path\'s FastHistogram the same way, one point per label set', async () => {
    const json = await families((registers) => {
      const h = new FastHistogram({ name: 'x_upstream_seconds', help: 'h', labelNames: ['provider'], buckets: [1, 2], registers });
      h.series({ provider: 'a' }).observe(0.5);
      h.series({ provider: 'b' }).observe(1.5);
      h.series({ provider: 'b' }).observe(3);
    });
    const [m] = toOtlpMetrics(json, T0, T1) as HistogramMetricData[];
    expect(m!.dataPoints.map((p) => [p.attributes, p.value.buckets.counts, p.value.count])).toEqual([
      [{ provider: 'a' }, [1, 0, 0], 1],
      [{ provider: 'b' }, [0, 1, 1], 2],
    ]);
  });

  it('keeps gauges and leaves out NaN samples (an unknown reading)', async () => {
    const json = await families((registers) => {
      new Gauge({ name: 'x_free_bytes', help: 'h', registers }).set(NaN);
      new Gauge({ name: 'x_in_flight', help: 'h', labelNames: ['shard'], registers }).set({ shard: '0' }, 3);
    });
    const [free, inFlight] = toOtlpMetrics(json, T0, T1) as GaugeMetricData[];
    expect(free).toMatchObject({ dataPointType: DataPointType.GAUGE, descriptor: { unit: 'By' }, dataPoints: [] });
    expect(inFlight!.dataPoints.map((p) => [p.attributes, p.value])).toEqual([[{ shard: '0' }, 3]]);
  });
});

describe('ResetWatch', () => {
  it('reports a counter or histogram that went down (a restarted shard) and nothing else', async () => {
    const r = new Registry();
    const c = new Counter({ name: 'x_total', help: 'h', registers: [r] });
    const g = new Gauge({ name: 'x_gauge', help: 'h', registers: [r] });
    const watch = new ResetWatch();
    c.inc(5);
    g.set(10);
    expect(watch.reset(toOtlpMetrics(await r.getMetricsAsJSON(), T0, T1))).toBe(false);
    c.inc(1);
    g.set(1); // gauges go down freely
    expect(watch.reset(toOtlpMetrics(await r.getMetricsAsJSON(), T0, T1))).toBe(false);
    c.reset();
    c.inc(2);
    expect(watch.reset(toOtlpMetrics(await r.getMetricsAsJSON(), T0, T1))).toBe(true);
    c.inc(1);
    expect(watch.reset(toOtlpMetrics(await r.getMetricsAsJSON(), T0, T1))).toBe(false);
  });
});
