import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/routing/circuit-breaker.js';

const T0 = 1_000_000;

describe('circuit breaker', () => {
  it('stays closed until the configured number of consecutive failures', () => {
    const b = new CircuitBreaker({ failures: 3, cooldownMs: 1000 });
    b.failed(T0, false);
    b.failed(T0, false);
    expect(b.state(T0)).toBe('closed');
    expect(b.admit(T0)).toEqual({ go: true, probe: false });
    b.failed(T0, false);
    expect(b.state(T0)).toBe('open');
    expect(b.admit(T0 + 999)).toEqual({ go: false, until: T0 + 1000 });
  });

  it('a success in between resets the count', () => {
    const b = new CircuitBreaker({ failures: 2, cooldownMs: 1000 });
    b.failed(T0, false);
    b.succeeded(false);
    b.failed(T0, false);
    expect(b.state(T0)).toBe('closed');
  });

  it('after the cooldown admits exactly one probe, and keeps others off while it is out', () => {
    const b = new CircuitBreaker({ failures: 1, cooldownMs: 1000 });
    b.failed(T0, false);
    expect(b.probeReady(T0 + 1000)).toBe(true);
    expect(b.admit(T0 + 1000)).toEqual({ go: true, probe: true });
    expect(b.probeReady(T0 + 1001)).toBe(false);
    expect(b.blocked(T0 + 1001)).toBe(true);
    expect(b.admit(T0 + 1001).go).toBe(false);
  });

  it('a successful probe closes it', () => {
    const b = new CircuitBreaker({ failures: 1, cooldownMs: 1000 });
    b.failed(T0, false);
    b.admit(T0 + 1000);
    b.succeeded(true);
    expect(b.state(T0 + 1000)).toBe('closed');
    expect(b.admit(T0 + 1000)).toEqual({ go: true, probe: false });
  });

  it('a failed probe opens it for another cooldown', () => {
    const b = new CircuitBreaker({ failures: 1, cooldownMs: 1000 });
    b.failed(T0, false);
    b.admit(T0 + 1500);
    b.failed(T0 + 1500, true);
    expect(b.state(T0 + 2000)).toBe('open');
    expect(b.openUntil).toBe(T0 + 2500);
    expect(b.admit(T0 + 2500)).toEqual({ go: true, probe: true });
  });

  it('an abandoned probe frees the slot for the next call', () => {
    const b = new CircuitBreaker({ failures: 1, cooldownMs: 1000 });
    b.failed(T0, false);
    b.admit(T0 + 1000);
    b.abandoned(true);
    expect(b.admit(T0 + 1000)).toEqual({ go: true, probe: true });
  });

  it('retry-after from a 429 opens it at once for that long, whatever the count', () => {
    const b = new CircuitBreaker({ failures: 5, cooldownMs: 30_000 });
    b.failed(T0, false, 2000);
    expect(b.state(T0)).toBe('open');
    expect(b.openUntil).toBe(T0 + 2000);
    expect(b.state(T0 + 2000)).toBe('half_open');
  });

  it('late failures of calls sent before it opened do not push the cooldown out', () => {
    const b = new CircuitBreaker({ failures: 1, cooldownMs: 1000 });
    b.failed(T0, false);
    b.failed(T0 + 500, false);
    expect(b.openUntil).toBe(T0 + 1000);
  });
});
