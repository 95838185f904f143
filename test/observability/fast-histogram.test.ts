import { describe, expect, it } from 'vitest';
import { Histogram, Registry } from 'prom-client';
import { FastHistogram } from '../../src/observability/fast-histogram.js';

// The call path records latencies into FastHistogram series; whatever reads
// the registry (text or JSON, summed across shards) must see exactly what
// prom-client's own Histogram would have exported for the same values.

const BUCKETS = [0.001, 0.002, 0.005, 0.01, 0.1];
const VALUES = [0.0005, 0.001, 0.0011, 0.002, 0.004, 0.005, 0.05, 0.1, 0.2, 3, 0.001];

function pair() {
  const a = new Registry();
  const b = new Registry();
  const plain = new Histogram({ name: 'x_seconds', help: 'x', labelNames: ['provider', 'target'], buckets: BUCKETS, registers: [a] });
  const fast = new FastHistogram({ name: 'x_seconds', help: 'x', labelNames: ['provider', 'target'], buckets: BUCKETS, registers: [b] });
  return { a, b, plain, fast };
}

describe('FastHistogram', () => {
  it('exports the same text as a prom-client Histogram fed the same values, per label set', async () => {
    const { a, b, plain, fast } = pair();
    const one = { provider: 'openai', target: 'openai/gpt-4o' };
    const two = { provider: 'anthropic', target: 'anthropic/claude' };
    const s1 = fast.series(one);
    const s2 = fast.series(two);
    for (const v of VALUES) {
      plain.observe(one, v);
      s1.observe(v);
    }
    plain.observe(two, 0.003);
    s2.observe(0.003);
    expect(await b.metrics()).toBe(await a.metrics());
    expect(await b.getMetricsAsJSON()).toEqual(await a.getMetricsAsJSON());
  });

  it('gives one series per label set, and a label set fetched twice adds to the same counts', async () => {
    const { b, fast } = pair();
    fast.series({ provider: 'p', target: 'p/m' }).observe(0.001);
    fast.series({ target: 'p/m', provider: 'p' }).observe(0.001); // label order does not matter
    const count = (await b.getMetricsAsJSON())[0]!.values.find((v) => v.metricName === 'x_seconds_count');
    expect(count?.value).toBe(2);
  });

  it('exports nothing for a series that observed nothing, and starts over after reset', async () => {
    const { a, b, fast } = pair();
    fast.series({ provider: 'p', target: 'p/m' });
    expect(await b.metrics()).toBe(await a.metrics());
    fast.series({ provider: 'p', target: 'p/m' }).observe(0.004);
    fast.reset();
    expect(await b.metrics()).toBe(await a.metrics());
  });

  it('matches an unlabelled prom-client Histogram', async () => {
    const a = new Registry();
    const b = new Registry();
    const plain = new Histogram({ name: 'd_seconds', help: 'd', buckets: BUCKETS, registers: [a] });
    const fast = new FastHistogram({ name: 'd_seconds', help: 'd', buckets: BUCKETS, registers: [b] });
    const s = fast.series();
    for (const v of VALUES) {
      plain.observe(v);
      s.observe(v);
    }
    expect(await b.metrics()).toBe(await a.metrics());
  });
});
