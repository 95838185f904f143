import { describe, expect, it } from 'vitest';
// @ts-expect-error plain ESM module without types
import { buildTable } from '../../pricing/generate.mjs';

// Generator rules, on a synthetic LiteLLM file: Claude cache writes are filled on every platform
// and in every tier; $0 rows are listed as unpriced unless an override marks them free.

const litellm = {
  'us.anthropic.claude-x-v1:0': {
    litellm_provider: 'bedrock_converse', mode: 'chat', input_cost_per_token: 3e-6, output_cost_per_token: 1.5e-5, cache_read_input_token_cost: 3e-7,
    input_cost_per_token_above_200k_tokens: 6e-6, output_cost_per_token_above_200k_tokens: 2.25e-5,
  },
  'claude-y': { litellm_provider: 'anthropic', mode: 'chat', input_cost_per_token: 1e-6, output_cost_per_token: 5e-6, cache_creation_input_token_cost: 1.2e-6 },
  'zero-chat': { litellm_provider: 'openai', mode: 'chat', input_cost_per_token: 0, output_cost_per_token: 0 },
  'free-chat': { litellm_provider: 'openai', mode: 'chat', input_cost_per_token: 0, output_cost_per_token: 0 },
};
const overrides = { models: { 'free-chat': { free: true, reason: 'the vendor says this model is free of charge' } }, aliases: {} };

describe('generate.mjs rules', () => {
  const { table } = buildTable(litellm, overrides, {});

  it('fills a Bedrock Claude row missing its 5-minute and 1-hour writes, in the base rate and the tier', () => {
    const e = table.models['us.anthropic.claude-x-v1:0'];
    expect([e.cache_write, e.cache_write_1h]).toEqual([3_750_000, 6_000_000]);
    expect(e.tiers[0]).toMatchObject({ above: 200000, input: 6_000_000, cache_write: 7_500_000, cache_write_1h: 12_000_000 });
    expect(table.generated_at_source.derived.map((d: any) => d.field)).toEqual(
      expect.arrayContaining(['cache_write', 'cache_write_1h', 'tiers[200000].cache_write', 'tiers[200000].cache_write_1h']),
    );
  });

  it('never replaces a listed cache-write price', () => {
    expect(table.models['claude-y'].cache_write).toBe(1_200_000);
    expect(table.models['claude-y'].cache_write_1h).toBe(2_000_000);
  });

  it('lists $0 rows as unpriced unless an override marks them free', () => {
    expect(table.generated_at_source.zero_priced).toEqual(['zero-chat']);
    expect(table.models['free-chat'].free).toBe(true);
  });

  it('rejects free: false (omit the key instead)', () => {
    expect(() => buildTable(litellm, { models: { 'zero-chat': { free: false, reason: 'not actually free at all' } } }, {})).toThrow(/free must be true/);
  });
});
