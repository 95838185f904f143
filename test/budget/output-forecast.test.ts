import { describe, expect, it } from 'vitest';
import { OutputForecast, RING_SIZE, type ForecastOptions } from '../../src/budget/output-forecast.js';

const OPTS: ForecastOptions = { percentile: 95, margin: 1.25, defaultTokens: 256, minTokens: 16, minSamples: 8, maxKeys: 3 };

describe('output forecast', () => {
  it('holds the default for a customer and model with no history', () => {
    expect(new OutputForecast(OPTS).hold('acme', 'gpt-4o', 16384)).toBe(256);
  });

  it('holds the percentile of recent completions with its margin once there is enough history', () => {
    const f = new OutputForecast(OPTS);
    for (let i = 1; i <= 20; i++) f.record('acme', 'gpt-4o', 40);
    expect(f.hold('acme', 'gpt-4o', 16384)).toBe(50);
    f.record('acme', 'gpt-4o', 1000);
    // One outlier in 21 is above the 95th percentile.
    expect(f.hold('acme', 'gpt-4o', 16384)).toBe(50);
    f.record('acme', 'gpt-4o', 1000);
    expect(f.hold('acme', 'gpt-4o', 16384)).toBe(1250);
  });

  it('keeps the default as a floor until minSamples completions were seen', () => {
    const f = new OutputForecast(OPTS);
    for (let i = 0; i < 7; i++) f.record('acme', 'gpt-4o', 10);
    expect(f.hold('acme', 'gpt-4o', 16384)).toBe(256);
    f.record('acme', 'gpt-4o', 10);
    expect(f.hold('acme', 'gpt-4o', 16384)).toBe(16);
  });

  it('clamps the hold to the model maximum and the minimum', () => {
    const f = new OutputForecast(OPTS);
    for (let i = 0; i < 10; i++) f.record('acme', 'm', 100_000);
    expect(f.hold('acme', 'm', 4096)).toBe(4096);
    for (let i = 0; i < 10; i++) f.record('acme', 'n', 0);
    expect(f.hold('acme', 'n', 4096)).toBe(16);
  });

  it('forgets completions older than the last ring of them', () => {
    const f = new OutputForecast(OPTS);
    for (let i = 0; i < RING_SIZE; i++) f.record('acme', 'gpt-4o', 5000);
    for (let i = 0; i < RING_SIZE; i++) f.record('acme', 'gpt-4o', 100);
    expect(f.hold('acme', 'gpt-4o', 16384)).toBe(125);
  });

  it('keeps customers and models apart', () => {
    const f = new OutputForecast(OPTS);
    for (let i = 0; i < 10; i++) f.record('acme', 'gpt-4o', 100);
    expect(f.hold('beta', 'gpt-4o', 16384)).toBe(256);
    expect(f.hold('acme', 'gpt-4o-mini', 16384)).toBe(256);
  });

  it('remembers at most maxKeys pairs, dropping the least recently used', () => {
    const f = new OutputForecast(OPTS);
    for (const c of ['a', 'b', 'c']) for (let i = 0; i < 10; i++) f.record(c, 'm', 100);
    f.hold('a', 'm', 16384); // a is now more recent than b
    f.record('d', 'm', 100);
    expect(f.size).toBe(3);
    expect(f.hold('b', 'm', 16384)).toBe(256);
    expect(f.hold('a', 'm', 16384)).toBe(125);
  });
});
