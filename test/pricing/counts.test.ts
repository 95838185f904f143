import { describe, expect, it } from 'vitest';
import { loadPriceTable } from '../../src/pricing/load-price-table.ts';
import { readJson } from './helpers.ts';

const REQUIRED = ['openai', 'anthropic', 'gemini', 'vertex', 'mistral', 'cohere', 'deepseek', 'groq', 'together', 'bedrock', 'azure', 'xai', 'openrouter', 'fireworks', 'perplexity', 'deepinfra'];
const MODES = new Set(['chat', 'responses', 'completion', 'embedding', 'image_generation', 'audio_transcription', 'audio_speech']);

describe('coverage', () => {
  const table = loadPriceTable();
  const counts: Record<string, Record<string, number>> = {};
  for (const [, e] of table.entries()) {
    const c = (counts[e.provider] ??= { total: 0 });
    c.total++;
    c[e.mode] = (c[e.mode] ?? 0) + 1;
  }

  it('prints per-provider counts and has >= 220 chat models from the required providers', () => {
    const rows = Object.entries(counts).sort((a, b) => b[1].total - a[1].total);
    for (const [p, c] of rows) {
      const modes = Object.entries(c)
        .filter(([k]) => k !== 'total')
        .map(([k, v]) => `${k} ${v}`)
        .join(', ');
      console.log(`[pricing] ${p.padEnd(11)} ${String(c.total).padStart(4)}  (${modes})`);
    }
    const chat = REQUIRED.reduce((s, p) => s + (counts[p]?.chat ?? 0), 0);
    console.log(`[pricing] ${table.size} models, ${chat} chat models from the ${REQUIRED.length} required providers`);
    expect(chat).toBeGreaterThanOrEqual(220);
  });

  it.each(REQUIRED)('has chat models for %s', (p) => {
    expect(counts[p]?.chat ?? 0).toBeGreaterThan(0);
  });

  it('only in-scope modes, and no reserved keys', () => {
    for (const [id, e] of table.entries()) {
      expect(MODES.has(e.mode), `${id} mode ${e.mode}`).toBe(true);
      expect(['litellm', 'override', 'genai-prices']).toContain(e.source);
    }
    expect(table.lookup('sample_spec')).toBeUndefined();
    expect(table.lookup('fallback_generalizations')).toBeUndefined();
  });

  it('the counts recorded in models.json match the table', () => {
    const data = readJson('pricing/models.json');
    expect(data.generated_at_source.counts.models).toBe(table.size);
    for (const [p, c] of Object.entries<any>(data.generated_at_source.counts.by_provider)) expect(c.total, p).toBe(counts[p].total);
    expect(data.generated_at_source.litellm.sha256).toBe(readJson('pricing/SOURCE.json').files['litellm_model_prices.json'].sha256);
  });
});
