import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { OutputForecast, Ring, RING_SIZE, type ForecastOptions } from '../../src/budget/output-forecast.js';

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

  it('keeps the same pairs, in the same recency order, as a map re-inserted on every use', () => {
    // The order the forecast kept before its recency list: a Map whose every use deletes and re-inserts the key.
    const op = fc.record({ customer: fc.integer({ min: 0, max: 8 }), model: fc.constantFrom('m', 'n'), record: fc.boolean() });
    fc.assert(fc.property(fc.integer({ min: 1, max: 6 }), fc.array(op, { maxLength: 300, size: 'max' }), (maxKeys, ops) => {
      const f = new OutputForecast({ ...OPTS, maxKeys });
      const before = new Map<string, true>();
      for (const { customer, model, record } of ops) {
        const k = `c${customer}\u0000${model}`;
        if (record) f.record(`c${customer}`, model, 100);
        else f.hold(`c${customer}`, model, 16384);
        if (before.delete(k) || record) before.set(k, true);
        if (before.size > maxKeys) before.delete(before.keys().next().value!);
        expect(f.pairs().map(([c, m]) => `${c}\u0000${m}`)).toEqual([...before.keys()].reverse());
        expect(f.size).toBe(before.size);
      }
    }));
  });
});

describe('forecast ring', () => {
  it('answers every percentile as a sort of its last RING_SIZE values would', () => {
    const value = fc.oneof(fc.integer({ min: 0, max: 3 }), fc.integer({ min: 0, max: 300 }), fc.integer({ min: 0, max: 0xffffffff }));
    const percentile = fc.oneof(fc.constantFrom(1, 50, 95, 99, 100), fc.integer({ min: 1, max: 100 }), fc.double({ min: 0.01, max: 100, noNaN: true }));
    fc.assert(fc.property(fc.array(value, { minLength: 1, maxLength: 3 * RING_SIZE, size: 'max' }), fc.array(percentile, { minLength: 1, maxLength: 5 }), (values, ps) => {
      const ring = new Ring('c', 'm');
      for (let i = 0; i < values.length; i++) {
        ring.push(values[i]!);
        // What it answered before: the last RING_SIZE values, copied and sorted, read at the nearest rank.
        const sorted = Uint32Array.from(values.slice(Math.max(0, i + 1 - RING_SIZE), i + 1)).sort();
        for (const p of ps) {
          const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
          expect(ring.percentile(p)).toBe(sorted[rank]);
        }
      }
    }));
  });
});
