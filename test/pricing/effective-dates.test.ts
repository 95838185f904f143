import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM module without types
import { buildTable } from '../../pricing/generate.mjs';
import { PriceTable, type PriceTableData } from '../../src/pricing/price-table.js';
import { priceSchedule } from '../../src/admin/pricing-api.js';

// Dated price changes: an entry's `changes` override its prices from an instant on, and a call is
// priced at the version in force at its timestamp.

const CUT = Date.parse('2031-07-01T00:00:00Z');
const LATER = Date.parse('2031-09-01T00:00:00Z');

const data = (changes: unknown): PriceTableData => ({
  schema: 1,
  models: {
    'm-1': { provider: 'openai', mode: 'chat', input: 1_000_000, output: 4_000_000, cache_read: 500_000, source: 'override', changes: changes as never },
    plain: { provider: 'openai', mode: 'chat', input: 1, output: 2, source: 'override' },
  },
  aliases: { 'm-alias': 'm-1' },
});

describe('effective dates in the price table', () => {
  const t = new PriceTable(data([
    { effective_from: '2031-07-01T00:00:00.000Z', input: 2_000_000 },
    { effective_from: '2031-09-01T00:00:00.000Z', output: 8_000_000 },
  ]));

  it('prices a call at the version in force at its timestamp', () => {
    expect(t.lookup('m-1', undefined, undefined, CUT - 1)?.entry).toMatchObject({ input: 1_000_000, output: 4_000_000, cache_read: 500_000 });
    expect(t.lookup('m-1', undefined, undefined, CUT)?.entry).toMatchObject({ input: 2_000_000, output: 4_000_000, cache_read: 500_000 });
    expect(t.lookup('m-1', undefined, undefined, LATER + 5)?.entry).toMatchObject({ input: 2_000_000, output: 8_000_000 });
  });

  it('applies the schedule to aliases and snapshot forms too, keeping how the id resolved', () => {
    const m = t.lookup('m-alias', undefined, undefined, CUT + 1)!;
    expect([m.id, m.via, m.entry.input]).toEqual(['m-1', 'alias', 2_000_000]);
    expect(t.lookup('m-1-2031-05-01', undefined, undefined, CUT - 1)?.entry.input).toBe(1_000_000);
  });

  it('never hands the change list to the cost code', () => {
    expect(t.lookup('m-1', undefined, undefined, 0)?.entry.changes).toBeUndefined();
    expect(t.lookup('m-1', undefined, undefined, LATER)?.entry.changes).toBeUndefined();
  });

  it('lists the versions for the admin view, with the one in force now', () => {
    const s = priceSchedule(t, 'm-1', CUT + 1)!;
    expect(s.map((v) => [v.effective_from, v.status, v.provider_price.input, v.provider_price.output])).toEqual([
      [null, 'past', 1, 4],
      ['2031-07-01T00:00:00.000Z', 'in_force', 2, 4],
      ['2031-09-01T00:00:00.000Z', 'scheduled', 2, 8],
    ]);
    expect(priceSchedule(t, 'plain', CUT)).toBeUndefined();
  });

  it('treats a change to $0 as unpriced from its instant (never silently free)', () => {
    const z = new PriceTable(data([{ effective_from: '2031-07-01T00:00:00Z', input: 0, output: 0 }]));
    expect(z.lookup('m-1', undefined, undefined, CUT - 1)).toBeDefined();
    expect(z.lookup('m-1', undefined, undefined, CUT)).toBeUndefined();
    expect(z.explain('m-1', undefined, undefined, CUT).unpriced).toBe('zero_price');
  });

  it('refuses unsorted, undated or negative changes', () => {
    expect(() => new PriceTable(data([{ effective_from: '2031-09-01T00:00:00Z', input: 1 }, { effective_from: '2031-07-01T00:00:00Z', input: 2 }]))).toThrow(/changes\[1\].*sorted/);
    expect(() => new PriceTable(data([{ effective_from: 'soon', input: 1 }]))).toThrow(/changes\[0\]\.effective_from must be an ISO instant/);
    expect(() => new PriceTable(data([{ effective_from: '2031-07-01T00:00:00Z', input: -1 }]))).toThrow(/changes\[0\]\.input must be a non-negative integer/);
  });
});

describe('generate.mjs carries dated changes from overrides.json', () => {
  const litellm = { 'gpt-x': { litellm_provider: 'openai', mode: 'chat', input_cost_per_token: 1e-6, output_cost_per_token: 4e-6 } };
  const change = { effective_from: '2031-07-01T02:00:00+02:00', input: 2.5, reason: 'the vendor raised the input price on July 1st' };

  it('converts each change to pico-USD at a UTC instant', () => {
    const { table } = buildTable(litellm, { models: { 'gpt-x': { reason: 'dated price change announced by the vendor', changes: [change] } } }, {});
    expect(table.models['gpt-x']).toMatchObject({ input: 1_000_000, output: 4_000_000, changes: [{ effective_from: '2031-07-01T00:00:00.000Z', input: 2_500_000 }] });
    expect(new PriceTable(table).lookup('gpt-x', undefined, undefined, CUT)?.entry.input).toBe(2_500_000);
  });

  it('refuses a change without a reason, a zone, or in the wrong order', () => {
    const bad = (changes: unknown) => () => buildTable(litellm, { models: { 'gpt-x': { reason: 'dated price change announced by the vendor', changes } } }, {});
    expect(bad([{ ...change, reason: undefined }])).toThrow(/changes\[0\] needs a "reason"/);
    expect(bad([{ ...change, effective_from: '2031-07-01' }])).toThrow(/effective_from must be an ISO instant with a zone/);
    expect(bad([change, { ...change, effective_from: '2031-06-01T00:00:00Z' }])).toThrow(/later than the change before it/);
    expect(bad([{ effective_from: change.effective_from, reason: change.reason }])).toThrow(/changes no price/);
  });
});
