// Known prices, checked by hand against pricing/sources/litellm_model_prices.json (the LiteLLM
// value is quoted in each comment, USD per token unless stated) or against pricing/overrides.json.
import { describe, expect, it } from 'vitest';
import { loadPriceTable } from '../../src/pricing/load-price-table.ts';
import { costPico } from '../../src/pricing/cost.ts';
import type { PriceEntry, PriceTier } from '../../src/pricing/price-table.ts';
import { perM, usd } from './helpers.ts';

const table = loadPriceTable();

interface Case {
  name: string;
  model: string;
  hint?: string;
  id: string;
  provider: string;
  mode: string;
  source?: PriceEntry['source'];
  fields: Partial<Record<keyof PriceEntry, number | undefined>>;
  tiers?: PriceTier[] | null; // null = must have no tiers
}

const CASES: Case[] = [
  // ---------------- OpenAI
  { name: 'openai gpt-4o with cached read and batch', model: 'gpt-4o', id: 'gpt-4o', provider: 'openai', mode: 'chat',
    // input 0.0000025, output 0.00001, cache_read 0.00000125, batches 0.00000125 / 0.000005
    fields: { input: perM('2.5'), output: perM('10'), cache_read: perM('1.25'), batch_input: perM('1.25'), batch_output: perM('5'), cache_write: undefined }, tiers: null },
  { name: 'openai gpt-4o-mini', model: 'gpt-4o-mini', id: 'gpt-4o-mini', provider: 'openai', mode: 'chat',
    // 1.5e-7 / 6e-7 / 7.5e-8
    fields: { input: perM('0.15'), output: perM('0.6'), cache_read: perM('0.075') } },
  { name: 'openai o3', model: 'o3', id: 'o3', provider: 'openai', mode: 'chat',
    // 0.000002 / 0.000008 / 5e-7
    fields: { input: perM('2'), output: perM('8'), cache_read: perM('0.5') } },
  { name: 'openai gpt-4.1 batch prices', model: 'gpt-4.1', id: 'gpt-4.1', provider: 'openai', mode: 'chat',
    fields: { input: perM('2'), output: perM('8'), cache_read: perM('0.5'), batch_input: perM('1'), batch_output: perM('4') } },
  { name: 'openai gpt-5.2', model: 'gpt-5.2', id: 'gpt-5.2', provider: 'openai', mode: 'chat',
    // 0.00000175 / 0.000014 / 1.75e-7
    fields: { input: perM('1.75'), output: perM('14'), cache_read: perM('0.175') } },
  { name: 'openai gpt-5.6-sol re-priced from genai-prices (override, >272k tier)', model: 'gpt-5.6-sol', id: 'gpt-5.6-sol', provider: 'openai', mode: 'chat', source: 'genai-prices',
    fields: { input: perM('4'), output: perM('20'), cache_read: perM('0.4'), cache_write: perM('5'), batch_input: perM('2'), batch_output: perM('10') },
    tiers: [{ above: 272000, input: perM('8'), output: perM('30'), cache_read: perM('0.8'), cache_write: perM('10') }] },
  { name: 'openai completion babbage-002', model: 'babbage-002', id: 'babbage-002', provider: 'openai', mode: 'completion',
    fields: { input: perM('0.4'), output: perM('0.4') } },
  { name: 'openai embedding text-embedding-3-large', model: 'text-embedding-3-large', id: 'text-embedding-3-large', provider: 'openai', mode: 'embedding',
    // 1.3e-7, output 0, batches 6.5e-8
    fields: { input: perM('0.13'), output: 0, batch_input: perM('0.065') } },
  { name: 'openai embedding text-embedding-3-small', model: 'text-embedding-3-small', id: 'text-embedding-3-small', provider: 'openai', mode: 'embedding',
    fields: { input: perM('0.02'), batch_input: perM('0.01') } },
  { name: 'openai whisper-1 per audio second', model: 'whisper-1', id: 'whisper-1', provider: 'openai', mode: 'audio_transcription',
    // input_cost_per_second 0.0001
    fields: { per_second: usd('0.0001'), input: undefined } },
  { name: 'openai gpt-4o-transcribe audio input corrected to $6/M (override)', model: 'gpt-4o-transcribe', id: 'gpt-4o-transcribe', provider: 'openai', mode: 'audio_transcription', source: 'override',
    fields: { input: perM('6'), output: perM('10') } },
  { name: 'openai gpt-4o-mini-tts text input corrected to $0.60/M, audio output 12, per second', model: 'gpt-4o-mini-tts', id: 'gpt-4o-mini-tts', provider: 'openai', mode: 'audio_speech', source: 'override',
    // output_cost_per_audio_token 0.000012, output_cost_per_second 0.00025
    fields: { input: perM('0.6'), output: perM('12'), per_second: usd('0.00025') } },
  { name: 'openai tts-1-hd per character', model: 'tts-1-hd', id: 'tts-1-hd', provider: 'openai', mode: 'audio_speech',
    // input_cost_per_character 0.00003
    fields: { per_character: usd('0.00003') } },
  { name: 'openai dall-e-3 per image (input_cost_per_image holds the output-image price)', model: 'dall-e-3', id: 'dall-e-3', provider: 'openai', mode: 'image_generation',
    fields: { per_image: usd('0.04') } },
  { name: 'openai hd 1024x1792 dall-e-3 per image (override of the per-pixel quotient)', model: 'hd/1024-x-1792/dall-e-3', id: 'hd/1024-x-1792/dall-e-3', provider: 'openai', mode: 'image_generation', source: 'override',
    fields: { per_image: usd('0.12') } },
  { name: 'openai gpt-image-1 high 1024x1536 per image', model: 'high/1024-x-1536/gpt-image-1', id: 'high/1024-x-1536/gpt-image-1', provider: 'openai', mode: 'image_generation',
    fields: { per_image: usd('0.25') } },
  { name: 'openai gpt-image-1 token prices (image output tokens)', model: 'gpt-image-1', id: 'gpt-image-1', provider: 'openai', mode: 'image_generation',
    // input_cost_per_token 0.000005, output_cost_per_image_token 0.00004, cache 0.00000125
    fields: { input: perM('5'), output: perM('40'), cache_read: perM('1.25'), per_image: undefined } },

  // ---------------- Anthropic
  { name: 'anthropic claude-sonnet-4 cache 5m/1h and >200k tier', model: 'claude-sonnet-4-20250514', id: 'claude-sonnet-4-20250514', provider: 'anthropic', mode: 'chat', source: 'litellm',
    // 0.000003 / 0.000015 / 3e-7 / 0.00000375 / 1h 0.000006; above_200k 0.000006 / 0.0000225 / 6e-7 / 0.0000075;
    // the tier's 1-hour write (2x the tier input) is filled by the generator (LiteLLM has none)
    fields: { input: perM('3'), output: perM('15'), cache_read: perM('0.3'), cache_write: perM('3.75'), cache_write_1h: perM('6') },
    tiers: [{ above: 200000, input: perM('6'), output: perM('22.5'), cache_read: perM('0.6'), cache_write: perM('7.5'), cache_write_1h: perM('12') }] },
  { name: 'anthropic claude-sonnet-4-5 tier incl. 1h write above 200k', model: 'claude-sonnet-4-5', id: 'claude-sonnet-4-5', provider: 'anthropic', mode: 'chat',
    // cache_creation_input_token_cost_above_1hr_above_200k_tokens 0.000012
    fields: { input: perM('3'), cache_write_1h: perM('6') },
    tiers: [{ above: 200000, input: perM('6'), output: perM('22.5'), cache_read: perM('0.6'), cache_write: perM('7.5'), cache_write_1h: perM('12') }] },
  { name: 'anthropic claude-opus-4-1', model: 'claude-opus-4-1-20250805', id: 'claude-opus-4-1-20250805', provider: 'anthropic', mode: 'chat',
    fields: { input: perM('15'), output: perM('75'), cache_read: perM('1.5'), cache_write: perM('18.75'), cache_write_1h: perM('30') } },
  { name: 'anthropic claude-haiku-4-5', model: 'claude-haiku-4-5', id: 'claude-haiku-4-5', provider: 'anthropic', mode: 'chat',
    fields: { input: perM('1'), output: perM('5'), cache_read: perM('0.1'), cache_write: perM('1.25'), cache_write_1h: perM('2') } },
  { name: 'anthropic claude-3-5-haiku-latest (retired, override via alias)', model: 'claude-3-5-haiku-latest', id: 'claude-3-5-haiku-20241022', provider: 'anthropic', mode: 'chat', source: 'genai-prices',
    fields: { input: perM('0.8'), output: perM('4'), cache_read: perM('0.08'), cache_write: perM('1'), cache_write_1h: perM('1.6') } },
  { name: 'anthropic claude-3-5-sonnet-latest (retired, override via alias)', model: 'claude-3-5-sonnet-latest', id: 'claude-3-5-sonnet-20241022', provider: 'anthropic', mode: 'chat', source: 'genai-prices',
    fields: { input: perM('3'), output: perM('15'), cache_read: perM('0.3'), cache_write: perM('3.75'), cache_write_1h: perM('6') } },
  { name: 'anthropic claude-3-opus 1h write fixed to 2x input (LiteLLM says 6e-06)', model: 'claude-3-opus-20240229', id: 'claude-3-opus-20240229', provider: 'anthropic', mode: 'chat', source: 'override',
    fields: { input: perM('15'), output: perM('75'), cache_write: perM('18.75'), cache_write_1h: perM('30') } },

  // ---------------- Google
  { name: 'gemini API gemini-2.5-pro >200k tier', model: 'gemini/gemini-2.5-pro', id: 'gemini/gemini-2.5-pro', provider: 'gemini', mode: 'chat',
    fields: { input: perM('1.25'), output: perM('10'), cache_read: perM('0.125') },
    tiers: [{ above: 200000, input: perM('2.5'), output: perM('15'), cache_read: perM('0.25') }] },
  { name: 'vertex bare gemini-2.5-pro >200k tier with cache write', model: 'gemini-2.5-pro', id: 'gemini-2.5-pro', provider: 'vertex', mode: 'chat',
    fields: { input: perM('1.25'), output: perM('10'), cache_read: perM('0.125') },
    tiers: [{ above: 200000, input: perM('2.5'), output: perM('15'), cache_read: perM('0.25'), cache_write: perM('0.25') }] },
  { name: 'gemini API gemini-2.0-flash', model: 'gemini/gemini-2.0-flash', id: 'gemini/gemini-2.0-flash', provider: 'gemini', mode: 'chat',
    fields: { input: perM('0.1'), output: perM('0.4'), cache_read: perM('0.025') } },
  { name: 'gemini API imagen-4 per image', model: 'gemini/imagen-4.0-generate-001', id: 'gemini/imagen-4.0-generate-001', provider: 'gemini', mode: 'image_generation',
    fields: { per_image: usd('0.04') } },
  { name: 'gemini API embedding', model: 'gemini/gemini-embedding-001', id: 'gemini/gemini-embedding-001', provider: 'gemini', mode: 'embedding',
    fields: { input: perM('0.15'), output: 0 } },
  { name: 'vertex Claude Sonnet 4 @-snapshot', model: 'vertex_ai/claude-sonnet-4@20250514', id: 'vertex_ai/claude-sonnet-4@20250514', provider: 'vertex', mode: 'chat',
    fields: { input: perM('3'), output: perM('15'), cache_read: perM('0.3'), cache_write: perM('3.75'), cache_write_1h: perM('6') },
    tiers: [{ above: 200000, input: perM('6'), output: perM('22.5'), cache_read: perM('0.6'), cache_write: perM('7.5'), cache_write_1h: perM('12') }] },

  // ---------------- Bedrock
  { name: 'bedrock us. cross-region Claude Sonnet 4 with tier', model: 'us.anthropic.claude-sonnet-4-20250514-v1:0', id: 'us.anthropic.claude-sonnet-4-20250514-v1:0', provider: 'bedrock', mode: 'chat',
    // 1-hour write filled at 2x input: LiteLLM's Bedrock row has none, so 1h writes billed at the 5m rate
    fields: { input: perM('3'), output: perM('15'), cache_read: perM('0.3'), cache_write: perM('3.75'), cache_write_1h: perM('6') },
    tiers: [{ above: 200000, input: perM('6'), output: perM('22.5'), cache_read: perM('0.6'), cache_write: perM('7.5'), cache_write_1h: perM('12') }] },
  { name: 'bedrock Claude 3.5 Haiku', model: 'anthropic.claude-3-5-haiku-20241022-v1:0', id: 'anthropic.claude-3-5-haiku-20241022-v1:0', provider: 'bedrock', mode: 'chat',
    fields: { input: perM('0.8'), output: perM('4'), cache_read: perM('0.08'), cache_write: perM('1') } },
  { name: 'bedrock Nova Pro', model: 'amazon.nova-pro-v1:0', id: 'amazon.nova-pro-v1:0', provider: 'bedrock', mode: 'chat',
    fields: { input: perM('0.8'), output: perM('3.2') } },
  { name: 'bedrock Nova 2 Pro 2.1875e-06 (not whole in nano-USD)', model: 'amazon.nova-2-pro-preview-20251202-v1:0', id: 'amazon.nova-2-pro-preview-20251202-v1:0', provider: 'bedrock', mode: 'chat',
    fields: { input: 2187500 } },
  { name: 'bedrock Titan embeddings v2', model: 'amazon.titan-embed-text-v2:0', id: 'amazon.titan-embed-text-v2:0', provider: 'bedrock', mode: 'embedding',
    fields: { input: perM('0.02') } },

  // ---------------- Azure
  { name: 'azure gpt-4o snapshot', model: 'azure/gpt-4o-2024-08-06', id: 'azure/gpt-4o-2024-08-06', provider: 'azure', mode: 'chat',
    fields: { input: perM('2.5'), output: perM('10'), cache_read: perM('1.25') } },
  { name: 'azure EU data-zone gpt-4o (+10%)', model: 'azure/eu/gpt-4o-2024-08-06', id: 'azure/eu/gpt-4o-2024-08-06', provider: 'azure', mode: 'chat',
    // 0.00000275 / 0.000011 / 0.000001375
    fields: { input: perM('2.75'), output: perM('11'), cache_read: perM('1.375') } },
  { name: 'azure gpt-35-turbo via provider hint', model: 'gpt-35-turbo', hint: 'azure', id: 'azure/gpt-35-turbo', provider: 'azure', mode: 'chat',
    fields: {} },

  // ---------------- Others
  { name: 'mistral-large-latest (Large 3, pinned override) via bare alias', model: 'mistral-large-latest', id: 'mistral/mistral-large-latest', provider: 'mistral', mode: 'chat', source: 'override',
    fields: { input: perM('0.5'), output: perM('1.5') } },
  { name: 'mistral large 2512', model: 'mistral/mistral-large-2512', id: 'mistral/mistral-large-2512', provider: 'mistral', mode: 'chat',
    fields: { input: perM('0.5'), output: perM('1.5'), cache_read: undefined } },
  { name: 'mistral embed', model: 'mistral/mistral-embed', id: 'mistral/mistral-embed', provider: 'mistral', mode: 'embedding',
    fields: { input: perM('0.1') } },
  { name: 'cohere command-r-plus', model: 'command-r-plus', id: 'command-r-plus', provider: 'cohere', mode: 'chat',
    fields: { input: perM('2.5'), output: perM('10') } },
  { name: 'cohere embed-english-v3.0', model: 'embed-english-v3.0', id: 'embed-english-v3.0', provider: 'cohere', mode: 'embedding',
    fields: { input: perM('0.1'), output: 0 } },
  // DeepSeek's pricing page: deepseek-chat / deepseek-reasoner are V4-Flash (non-thinking / thinking), so they bill at its price
  { name: 'deepseek-chat bills as V4-Flash', model: 'deepseek-chat', id: 'deepseek-chat', provider: 'deepseek', mode: 'chat', source: 'genai-prices',
    fields: { input: perM('0.22'), output: perM('0.66'), cache_read: perM('0.007') } },
  { name: 'deepseek-reasoner bills as V4-Flash', model: 'deepseek-reasoner', id: 'deepseek-reasoner', provider: 'deepseek', mode: 'chat', source: 'genai-prices',
    fields: { input: perM('0.22'), output: perM('0.66'), cache_read: perM('0.007') } },
  { name: 'grok-4 bare alias carries the >128k tier of grok-4-0709', model: 'grok-4', id: 'xai/grok-4', provider: 'xai', mode: 'chat',
    fields: { input: perM('3'), output: perM('15') }, tiers: [{ above: 128000, input: perM('6'), output: perM('30') }] },
  { name: 'deepseek-v4-flash re-priced 2026-08-17 (genai-prices)', model: 'deepseek-v4-flash', id: 'deepseek-v4-flash', provider: 'deepseek', mode: 'chat', source: 'genai-prices',
    fields: { input: perM('0.22'), output: perM('0.66'), cache_read: perM('0.007') } },
  { name: 'xai grok-4-0709 >128k tier', model: 'xai/grok-4-0709', id: 'xai/grok-4-0709', provider: 'xai', mode: 'chat',
    fields: { input: perM('3'), output: perM('15') },
    tiers: [{ above: 128000, input: perM('6'), output: perM('30') }] },
  { name: 'groq llama-3.3-70b', model: 'groq/llama-3.3-70b-versatile', id: 'groq/llama-3.3-70b-versatile', provider: 'groq', mode: 'chat',
    fields: { input: perM('0.59'), output: perM('0.79') } },
  { name: 'groq whisper-large-v3 per second', model: 'groq/whisper-large-v3', id: 'groq/whisper-large-v3', provider: 'groq', mode: 'audio_transcription',
    // input_cost_per_second 0.00003083
    fields: { per_second: usd('0.00003083') } },
  { name: 'together llama-3.3-70b turbo via hint', model: 'meta-llama/Llama-3.3-70B-Instruct-Turbo', hint: 'together', id: 'together_ai/meta-llama/Llama-3.3-70B-Instruct-Turbo', provider: 'together', mode: 'chat',
    fields: { input: perM('0.88'), output: perM('0.88') } },
  { name: 'openrouter claude-sonnet-4 with tier', model: 'openrouter/anthropic/claude-sonnet-4', id: 'openrouter/anthropic/claude-sonnet-4', provider: 'openrouter', mode: 'chat',
    fields: { input: perM('3'), output: perM('15'), cache_read: perM('0.3'), cache_write: perM('3.75'), cache_write_1h: perM('6') },
    tiers: [{ above: 200000, input: perM('6'), output: perM('22.5'), cache_read: perM('0.6'), cache_write: perM('7.5'), cache_write_1h: perM('12') }] },
  { name: 'fireworks deepseek-v3p1 via hint', model: 'deepseek-v3p1', hint: 'fireworks', id: 'fireworks_ai/accounts/fireworks/models/deepseek-v3p1', provider: 'fireworks', mode: 'chat',
    fields: { input: perM('0.56'), output: perM('1.68') } },
  { name: 'perplexity sonar-pro via bare alias', model: 'sonar-pro', id: 'perplexity/sonar-pro', provider: 'perplexity', mode: 'chat',
    fields: { input: perM('3'), output: perM('15') } },
  { name: 'deepinfra qwen3-235b', model: 'deepinfra/Qwen/Qwen3-235B-A22B', id: 'deepinfra/Qwen/Qwen3-235B-A22B', provider: 'deepinfra', mode: 'chat',
    fields: { input: perM('0.18'), output: perM('0.54') } },
  { name: 'cerebras gpt-oss-120b', model: 'cerebras/gpt-oss-120b', id: 'cerebras/gpt-oss-120b', provider: 'cerebras', mode: 'chat',
    fields: { input: perM('0.35'), output: perM('0.75') } },
];

describe('known prices (pico-USD, from the LiteLLM source and overrides)', () => {
  it('has at least 30 named cases across at least 12 providers', () => {
    expect(CASES.length).toBeGreaterThanOrEqual(30);
    expect(new Set(CASES.map((c) => c.provider)).size).toBeGreaterThanOrEqual(12);
    expect(new Set(CASES.map((c) => c.name)).size).toBe(CASES.length);
  });

  it.each(CASES.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const m = table.lookup(c.model, c.hint);
    expect(m, `lookup(${c.model})`).toBeDefined();
    expect(m!.id).toBe(c.id);
    const e = m!.entry;
    expect(e.provider).toBe(c.provider);
    expect(e.mode).toBe(c.mode);
    if (c.source) expect(e.source).toBe(c.source);
    for (const [f, v] of Object.entries(c.fields)) {
      expect(e[f as keyof PriceEntry], `${c.id}.${f}`).toBe(v);
    }
    if (c.tiers === null) expect(e.tiers).toBeUndefined();
    else if (c.tiers) expect(e.tiers).toEqual(c.tiers);
  });
});

describe('bills for known models (hand-computed)', () => {
  const bill = (model: string, usage: Parameters<typeof costPico>[1], hint?: string) => {
    const m = table.lookup(model, hint);
    if (!m) throw new Error(`no price for ${model}`);
    return costPico(m.entry, usage);
  };

  it('gpt-4o: 1,000 prompt of which 400 cached, 500 completion = $0.007', () => {
    // 600 x 2.5e6 + 400 x 1.25e6 + 500 x 10e6 = 1.5e9 + 0.5e9 + 5e9
    expect(bill('gpt-4o', { promptTokens: 1000, cachedTokens: 400, completionTokens: 500 })).toBe(7_000_000_000);
  });

  it('claude-sonnet-4: cached read, 5m and 1h writes', () => {
    // uncached 10000-2000-3000-1000 = 4000 x 3e6 = 12e9; read 2000 x 0.3e6 = 0.6e9;
    // 5m 3000 x 3.75e6 = 11.25e9; 1h 1000 x 6e6 = 6e9; out 1000 x 15e6 = 15e9 => 44.85e9
    expect(
      bill('claude-sonnet-4-20250514', { promptTokens: 10_000, cachedTokens: 2000, cacheWriteTokens: 3000, cacheWrite1hTokens: 1000, completionTokens: 1000 }),
    ).toBe(44_850_000_000);
  });

  it('claude-sonnet-4: 200,000 prompt tokens stays at base, 200,001 bills everything at the 1M-context tier', () => {
    expect(bill('claude-sonnet-4-20250514', { promptTokens: 200_000, completionTokens: 1000 })).toBe(200_000 * 3_000_000 + 1000 * 15_000_000);
    // tier: input 6e6, output 22.5e6; cache read 0.6e6; 1h write at the tier's 2x input, 12e6 (not the base 6e6)
    expect(bill('claude-sonnet-4-20250514', { promptTokens: 200_001, cachedTokens: 100_000, cacheWrite1hTokens: 1, completionTokens: 1000 })).toBe(
      100_000 * 6_000_000 + 100_000 * 600_000 + 1 * 12_000_000 + 1000 * 22_500_000,
    );
  });

  it('gemini-2.5-pro (Gemini API): 250k prompt -> $2.50/M in, $15/M out for the whole request', () => {
    expect(bill('gemini/gemini-2.5-pro', { promptTokens: 250_000, completionTokens: 2_000 })).toBe(250_000 * 2_500_000 + 2_000 * 15_000_000);
    expect(bill('gemini/gemini-2.5-pro', { promptTokens: 150_000, completionTokens: 2_000 })).toBe(150_000 * 1_250_000 + 2_000 * 10_000_000);
  });

  it('dall-e-3 x 3 images = $0.12; whisper-1 61.5 s = $0.00615; tts-1-hd 1,000 chars = $0.03', () => {
    expect(bill('dall-e-3', { promptTokens: 0, completionTokens: 0, images: 3 })).toBe(120_000_000_000);
    expect(bill('whisper-1', { promptTokens: 0, completionTokens: 0, seconds: 61.5 })).toBe(6_150_000_000);
    expect(bill('tts-1-hd', { promptTokens: 0, completionTokens: 0, characters: 1000 })).toBe(30_000_000_000);
  });

  it('text-embedding-3-small: 1M tokens = $0.02, batch $0.01', () => {
    expect(bill('text-embedding-3-small', { promptTokens: 1_000_000, completionTokens: 0 })).toBe(20_000_000_000);
    expect(bill('text-embedding-3-small', { promptTokens: 1_000_000, completionTokens: 0, batch: true })).toBe(10_000_000_000);
  });
});
