import { describe, expect, it } from 'vitest';
import { costPico, costPicoBig, selectTier } from '../../src/pricing/cost.ts';
import type { PriceEntry } from '../../src/pricing/price-table.ts';
import { loadPriceTable } from '../../src/pricing/load-price-table.ts';

const entry = (e: Partial<PriceEntry>): PriceEntry => ({ provider: 'openai', mode: 'chat', source: 'litellm', ...e });

describe('cost arithmetic is exact', () => {
  it('1,234,567 tokens x 2.1875e-06 USD = 2,700,615,312,500 pico-USD exactly', () => {
    const nova = loadPriceTable().lookup('amazon.nova-2-pro-preview-20251202-v1:0')!.entry;
    expect(nova.input).toBe(2_187_500);
    const pico = costPico(nova, { promptTokens: 1_234_567, completionTokens: 0 });
    expect(pico).toBe(2_700_615_312_500);
    // The float computation this replaces is not exact:
    expect(1_234_567 * 2.1875e-6).not.toBe(2.7006153125);
  });

  it('products beyond 2^53 stay exact in costPicoBig', () => {
    const e = entry({ input: 75_000_000, output: 300_000_000 }); // $75/M, $300/M
    const big = costPicoBig(e, { promptTokens: 123_456_789_012, completionTokens: 98_765_432_109 });
    expect(big).toBe(123_456_789_012n * 75_000_000n + 98_765_432_109n * 300_000_000n);
    expect(big > BigInt(Number.MAX_SAFE_INTEGER)).toBe(true);
  });

  it('fractional seconds are billed exactly', () => {
    const e = entry({ mode: 'audio_transcription', per_second: 30_830_000 }); // groq whisper 0.00003083 $/s
    expect(costPico(e, { promptTokens: 0, completionTokens: 0, seconds: 12.5 })).toBe(385_375_000);
    expect(costPico(e, { promptTokens: 0, completionTokens: 0, seconds: 0.1 })).toBe(3_083_000);
  });

  it('rounds only at the end, half up', () => {
    const e = entry({ provider: 'anthropic', input: 1 }); // no cache_write price -> 1.25 pico per write token
    expect(costPico(e, { promptTokens: 2, completionTokens: 0, cacheWriteTokens: 2 })).toBe(3); // 2.5 -> 3
    expect(costPico(e, { promptTokens: 3, completionTokens: 0, cacheWriteTokens: 3 })).toBe(4); // 3.75 -> 4
    expect(costPico(e, { promptTokens: 4, completionTokens: 0, cacheWriteTokens: 4 })).toBe(5); // exactly 5
  });
});

describe('cost rules', () => {
  const sonnet = entry({
    provider: 'anthropic',
    input: 3_000_000,
    output: 15_000_000,
    cache_read: 300_000,
    cache_write: 3_750_000,
    cache_write_1h: 6_000_000,
    tiers: [{ above: 200_000, input: 6_000_000, output: 22_500_000, cache_read: 600_000, cache_write: 7_500_000 }],
  });

  it('uncached input = prompt - cached - writes', () => {
    expect(costPico(sonnet, { promptTokens: 1000, completionTokens: 0, cachedTokens: 100, cacheWriteTokens: 200, cacheWrite1hTokens: 300 })).toBe(
      400 * 3_000_000 + 100 * 300_000 + 200 * 3_750_000 + 300 * 6_000_000,
    );
  });

  it('uncached input never goes negative', () => {
    expect(costPico(sonnet, { promptTokens: 10, completionTokens: 0, cachedTokens: 50 })).toBe(50 * 300_000);
  });

  it('tier chosen by promptTokens, strictly above the threshold, whole request at tier rates', () => {
    expect(selectTier(sonnet, 200_000)).toBeUndefined();
    expect(selectTier(sonnet, 200_001)?.above).toBe(200_000);
    expect(costPico(sonnet, { promptTokens: 200_001, completionTokens: 10, cacheWriteTokens: 1 })).toBe(200_000 * 6_000_000 + 1 * 7_500_000 + 10 * 22_500_000);
  });

  it('a tier without a field falls back to the base rate for that field', () => {
    // tier has no cache_write_1h -> base 6e6
    expect(costPico(sonnet, { promptTokens: 300_000, completionTokens: 0, cacheWrite1hTokens: 100_000 })).toBe(200_000 * 6_000_000 + 100_000 * 6_000_000);
  });

  it('highest applicable of several tiers', () => {
    const e = entry({ input: 1, output: 1, tiers: [{ above: 100, input: 2 }, { above: 1000, input: 3 }] });
    expect(costPico(e, { promptTokens: 100, completionTokens: 0 })).toBe(100);
    expect(costPico(e, { promptTokens: 101, completionTokens: 0 })).toBe(202);
    expect(costPico(e, { promptTokens: 1001, completionTokens: 5 })).toBe(3003 + 5);
  });

  it('missing cache_read -> cached tokens bill at the input price', () => {
    const e = entry({ input: 1_000_000, output: 2_000_000 });
    expect(costPico(e, { promptTokens: 100, completionTokens: 0, cachedTokens: 40 })).toBe(100 * 1_000_000);
  });

  it('missing cache_write -> input x 1.25 for anthropic, input for other providers', () => {
    const a = entry({ provider: 'anthropic', input: 1_000_000 });
    const o = entry({ provider: 'openai', input: 1_000_000 });
    expect(costPico(a, { promptTokens: 100, completionTokens: 0, cacheWriteTokens: 100 })).toBe(125_000_000);
    expect(costPico(o, { promptTokens: 100, completionTokens: 0, cacheWriteTokens: 100 })).toBe(100_000_000);
  });

  it('missing cache_write_1h -> input x 2 for anthropic, the 5-minute write price otherwise', () => {
    const a = entry({ provider: 'anthropic', input: 1_000_000, cache_write: 1_250_000 });
    const o = entry({ provider: 'bedrock', input: 1_000_000, cache_write: 1_250_000 });
    expect(costPico(a, { promptTokens: 100, completionTokens: 0, cacheWrite1hTokens: 100 })).toBe(200_000_000);
    expect(costPico(o, { promptTokens: 100, completionTokens: 0, cacheWrite1hTokens: 100 })).toBe(125_000_000);
  });

  it('batch uses batch prices when present, base prices otherwise', () => {
    const e = entry({ input: 2_500_000, output: 10_000_000, batch_input: 1_250_000, batch_output: 5_000_000, cache_read: 1_250_000 });
    expect(costPico(e, { promptTokens: 1000, completionTokens: 100, batch: true })).toBe(1000 * 1_250_000 + 100 * 5_000_000);
    expect(costPico(e, { promptTokens: 1000, completionTokens: 100, batch: false })).toBe(1000 * 2_500_000 + 100 * 10_000_000);
    const noBatch = entry({ input: 2_500_000, output: 10_000_000 });
    expect(costPico(noBatch, { promptTokens: 1000, completionTokens: 100, batch: true })).toBe(1000 * 2_500_000 + 100 * 10_000_000);
  });

  it('per-unit prices: images, seconds, characters; absent prices cost 0', () => {
    const e = entry({ mode: 'image_generation', per_image: 40_000_000_000 });
    expect(costPico(e, { promptTokens: 0, completionTokens: 0, images: 2 })).toBe(80_000_000_000);
    expect(costPico(e, { promptTokens: 500, completionTokens: 500, seconds: 10, characters: 10 })).toBe(0);
    const tts = entry({ mode: 'audio_speech', per_character: 15_000_000 });
    expect(costPico(tts, { promptTokens: 0, completionTokens: 0, characters: 4096 })).toBe(61_440_000_000);
  });

  it('rejects negative or non-finite usage', () => {
    expect(() => costPico(sonnet, { promptTokens: -1, completionTokens: 0 })).toThrow(RangeError);
    expect(() => costPico(sonnet, { promptTokens: 1, completionTokens: Number.NaN })).toThrow(RangeError);
    expect(() => costPico(sonnet, { promptTokens: 1, completionTokens: 0, seconds: Infinity })).toThrow(RangeError);
  });
});

describe('the double fast path', () => {
  it('agrees with the exact BigInt cost on thousands of generated calls across the table', async () => {
    const { costPicoFast, costPicoBig } = await import('../../src/pricing/cost.js');
    const { loadPriceTable } = await import('../../src/pricing/load-price-table.js');
    const table = loadPriceTable();
    const entries = [...table.entries()].map(([, e]) => e);
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    let fast = 0;
    for (let i = 0; i < 5000; i++) {
      const e = entries[rnd(entries.length)]!;
      const prompt = rnd(3) === 0 ? rnd(2_000_000) : rnd(5000);
      const cached = rnd(2) ? rnd(prompt + 1) : 0;
      const cw = rnd(4) === 0 ? rnd(prompt - cached + 1) : 0;
      const u = { promptTokens: prompt, completionTokens: rnd(100_000), cachedTokens: cached, cacheWriteTokens: cw, batch: rnd(5) === 0 };
      const f = costPicoFast(e, u);
      if (f !== undefined) {
        fast++;
        expect(f).toBe(Number(costPicoBig(e, u)));
      }
    }
    expect(fast).toBeGreaterThan(4000);
  });
});
