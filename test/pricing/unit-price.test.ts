import { describe, expect, it } from 'vitest';
import { loadPriceTable } from '../../src/pricing/load-price-table.js';
import { imagePrice } from '../../src/pricing/unit-price.js';
import { costPico } from '../../src/pricing/cost.js';

// Which entry prices an image, on the committed table. Vendor prices (USD per
// image): dall-e-3 standard 1024x1024 0.040, 1024x1792 0.080; HD 1024x1024
// 0.080, 1024x1792 0.120; dall-e-2 256x256 0.016; gpt-image-1 high 1536x1024 0.25.

const table = loadPriceTable();
const exact = (id: string) => {
  const m = table.lookup(id, 'openai');
  return m && m.id === id ? m : undefined;
};
const usd = (model: string, size: string, quality: string, n = 1) => {
  const m = imagePrice(exact, model, size, quality);
  return m ? { id: m.id, usd: costPico(m.entry, { promptTokens: 0, completionTokens: 0, images: n }) / 1e12 } : undefined;
};

describe('imagePrice', () => {
  it('prices dall-e-3 by quality and size at the vendor price', () => {
    expect(usd('dall-e-3', '1024x1024', 'standard', 2)).toEqual({ id: 'standard/1024-x-1024/dall-e-3', usd: 0.08 });
    expect(usd('dall-e-3', '1024x1792', 'standard')).toEqual({ id: 'standard/1024-x-1792/dall-e-3', usd: 0.08 });
    expect(usd('dall-e-3', '1024x1024', 'hd')).toEqual({ id: 'hd/1024-x-1024/dall-e-3', usd: 0.08 });
    expect(usd('dall-e-3', '1792x1024', 'hd')).toEqual({ id: 'hd/1792-x-1024/dall-e-3', usd: 0.12 });
  });

  it('prices a model keyed by size alone', () => {
    expect(usd('dall-e-2', '256x256', 'standard')).toEqual({ id: '256-x-256/dall-e-2', usd: 0.016 });
  });

  it('reserves the dearest variant when quality or size is auto', () => {
    expect(usd('gpt-image-1', 'auto', 'auto')).toEqual({ id: 'high/1024-x-1536/gpt-image-1', usd: 0.25 });
    expect(usd('gpt-image-1', '1024x1024', 'auto')).toEqual({ id: 'high/1024-x-1024/gpt-image-1', usd: 0.167 });
    expect(usd('gpt-image-1', 'auto', 'low')?.usd).toBe(0.016);
  });

  it('finds no per-image price for a model that has none', () => {
    expect(usd('gpt-4o-mini', '1024x1024', 'standard')).toBeUndefined();
    expect(usd('gpt-image-1', '1024x1024', 'ultra')).toBeUndefined();
  });
});
