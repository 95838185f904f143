import { describe, expect, it } from 'vitest';
import { TargetHealth, mergeHealth, HEALTHY, PROBE, COOLING } from '../../src/routing/target-health.js';

const T0 = Date.UTC(2026, 0, 1);
const target = { id: 'p/m', provider: { name: 'p' }, model: 'm', breaker: { failures: 2, cooldownMs: 1000 } };

describe('target health', () => {
  it('goes healthy → cooling → probe → healthy', () => {
    const h = new TargetHealth();
    h.configure([target]);
    expect(h.availability(target, T0)).toBe(HEALTHY);
    h.failed(target, false, T0, 'HTTP 500');
    h.failed(target, false, T0, 'HTTP 500');
    expect(h.availability(target, T0 + 10)).toBe(COOLING);
    expect(h.availability(target, T0 + 1000)).toBe(PROBE);
    expect(h.admit(target, T0 + 1000)).toEqual({ go: true, probe: true });
    expect(h.availability(target, T0 + 1001)).toBe(COOLING);
    h.succeeded(target, true, 12);
    expect(h.availability(target, T0 + 1002)).toBe(HEALTHY);
  });

  it('merges shards: cooling down if any shard skips it, the latest error, latency over all samples', () => {
    const a = new TargetHealth();
    const b = new TargetHealth();
    a.configure([target]);
    b.configure([target]);
    for (let i = 1; i <= 99; i++) a.succeeded(target, false, i);
    b.succeeded(target, false, 1000);
    b.failed(target, false, T0, 'ECONNRESET');
    b.failed(target, false, T0 + 5, 'HTTP 503');
    const [v] = mergeHealth([a.snapshot(T0 + 10), b.snapshot(T0 + 10)], T0 + 10);
    expect(v).toMatchObject({
      target: 'p/m', provider: 'p', model: 'm', state: 'cooling_down',
      cooling_down_until: new Date(T0 + 1005).toISOString(),
      calls: 102, failures: 2, consecutive_failures: 2,
      last_error: { message: 'HTTP 503', at: new Date(T0 + 5).toISOString() },
      latency_ms: { p50: 50, p99: 99, samples: 100 },
    });
    expect(v!.shards.map((s) => s.state)).toEqual(['closed', 'open']);
  });
});
