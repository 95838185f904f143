import { describe, expect, it } from 'vitest';
import { loadPriceTable } from '../../src/pricing/load-price-table.ts';
import { PriceTable } from '../../src/pricing/price-table.ts';
import { unpricedTargets } from '../../src/pricing/unpriced-targets.ts';
import { perM } from './helpers.ts';

// Every id form real clients send resolves (issue 16 item 4): fine-tuned ids, Gemini `models/`,
// Vertex publisher paths, provider-prefixed ids, version-suffixed ids, Azure deployments via priceAs.

const table = loadPriceTable();

type Row = [name: string, model: string, hint: string | undefined, id: string, via: string];
const ROWS: Row[] = [
  ['an OpenAI fine-tuned id prices at its base fine-tune rate', 'ft:gpt-4o-mini-2024-07-18:org::abc123', undefined, 'ft:gpt-4o-mini-2024-07-18', 'fine-tune'],
  ['a fine-tuned id with org, suffix and job id', 'ft:gpt-4.1-2025-04-14:acme:custom-name:Bx7q9', 'openai', 'ft:gpt-4.1-2025-04-14', 'fine-tune'],
  ['a fine-tuned id on an undated base takes the newest fine-tune snapshot', 'ft:gpt-4o-mini:org::x1', undefined, 'ft:gpt-4o-mini-2024-07-18', 'fine-tune'],
  ['a routed fine-tuned id', 'openai/ft:gpt-4o-mini-2024-07-18:org::abc123', undefined, 'ft:gpt-4o-mini-2024-07-18', 'fine-tune'],
  ['an Azure fine-tuned deployment model name', 'gpt-35-turbo-0613.ft-b044a9d3cf9c4228b5d393567f693b83', 'openai', 'ft:gpt-3.5-turbo-0613', 'fine-tune'],
  ["Gemini's models/ form prefers the Gemini API entry", 'models/gemini-2.5-pro', undefined, 'gemini/gemini-2.5-pro', 'prefix'],
  ['models/ form with a version suffix', 'models/gemini-1.5-flash-002', undefined, 'gemini/gemini-1.5-flash', 'snapshot'],
  ['a Vertex publisher resource path', 'projects/p1/locations/us-central1/publishers/google/models/gemini-2.5-flash', undefined, 'gemini-2.5-flash', 'prefix'],
  ['an OpenRouter-style mistralai/ prefix', 'mistralai/mistral-large-2512', undefined, 'mistral/mistral-large-2512', 'prefix'],
  ['a provider-prefixed OpenAI id', 'openai/gpt-4o', undefined, 'gpt-4o', 'prefix'],
  ['an OpenRouter-style x-ai/ id', 'x-ai/grok-4', undefined, 'xai/grok-4', 'prefix'],
  ['a google/ id', 'google/gemini-2.5-flash', undefined, 'gemini-2.5-flash', 'prefix'],
  ['a YYMM version suffix that is not a date (Mistral Small 4, not the older mistral-small)', 'mistral-small-2603', 'openai', 'mistral/mistral-small-2603', 'alias'],
  ['a version suffix in YY-MM form (Mistral Medium 3.5)', 'mistral-medium-3-5-26-04', 'openai', 'mistral/mistral-medium-3-5-26-04', 'alias'],
  ['the GA id of a model LiteLLM only lists as beta', 'grok-4.20-0309-non-reasoning', 'openai', 'xai/grok-4.20-0309-non-reasoning', 'alias'],
];

describe('id forms clients send', () => {
  for (const [name, model, hint, id, via] of ROWS) {
    it(`resolves ${name}`, () => {
      const m = table.lookup(model, hint);
      expect(m?.id, model).toBe(id);
      expect(m?.via, model).toBe(via);
    });
  }

  it('never prices a fine-tuned id at the cheaper base rate when there is no fine-tune rate', () => {
    expect(table.lookup('gpt-5-mini')).toBeDefined();
    expect(table.lookup('ft:gpt-5-mini-2025-08-07:org::abc')).toBeUndefined();
    const x = table.explain('ft:gpt-5-mini-2025-08-07:org::abc');
    expect(x.unpriced).toBe('no_fine_tune_rate');
    expect(x.detail).toContain('gpt-5-mini');
  });

  it('fine-tuned gpt-4o-mini bills 0.30 / 1.20 per 1M, not the base 0.15 / 0.60', () => {
    const e = table.lookup('ft:gpt-4o-mini-2024-07-18:org::abc123')!.entry;
    expect([e.input, e.output]).toEqual([perM('0.3'), perM('1.2')]);
  });
});

describe('priceAs (Azure deployment names)', () => {
  it('prices a deployment name as the configured model', () => {
    expect(table.lookup('prod-chat-eu', 'openai')).toBeUndefined();
    const m = table.lookup('prod-chat-eu', 'openai', 'gpt-4o-2024-08-06');
    expect(m?.id).toBe('gpt-4o-2024-08-06');
    expect(m?.via).toBe('price-as');
  });

  it('priceAs wins over a deployment name that happens to be a table id', () => {
    expect(table.lookup('gpt-4o', 'openai', 'gpt-4o-mini')?.id).toBe('gpt-4o-mini');
  });

  it('a priceAs that resolves to nothing leaves the target unpriced, and startup lists it', () => {
    const config = {
      providers: [
        { name: 'azure-eu', type: 'openai', models: ['chat-eu'], priceAs: 'gpt-4o' },
        { name: 'azure-us', type: 'openai', models: [] },
      ],
      routes: [
        {
          model: 'chat',
          targets: [
            { provider: 'azure-eu', model: 'chat-eu' },
            { provider: 'azure-us', model: 'chat-us', priceAs: 'gpt-4o-typo' },
            { provider: 'azure-us', model: 'chat-us-2' },
            { provider: 'azure-us', model: 'chat-us-3', priceAs: 'gpt-4o-mini' },
          ],
        },
      ],
    };
    const u = unpricedTargets(config, table);
    expect(u.map((x) => [x.provider, x.model, x.reason])).toEqual([
      ['azure-us', 'chat-us', 'not_found'],
      ['azure-us', 'chat-us-2', 'not_found'],
    ]);
    expect(u[0]!.detail).toContain('gpt-4o-typo');
  });
});

describe('never free by accident', () => {
  const zero = new PriceTable({
    schema: 1,
    models: {
      'zero-chat': { provider: 'openai', mode: 'chat', input: 0, output: 0, source: 'litellm' },
      'free-chat': { provider: 'openai', mode: 'chat', input: 0, output: 0, free: true, source: 'override' },
      'per-second-chat': { provider: 'bedrock', mode: 'chat', per_second: 1000, source: 'litellm' },
      'cache-only': { provider: 'openai', mode: 'chat', input: 0, output: 0, cache_read: 5, source: 'litellm' },
      'paid-chat': { provider: 'openai', mode: 'chat', input: 1, output: 0, source: 'litellm' },
    },
    aliases: { 'zero-alias': 'zero-chat' },
  });

  it('treats a $0 entry as unpriced unless it is marked free', () => {
    expect(zero.lookup('zero-chat')).toBeUndefined();
    expect(zero.lookup('zero-alias')).toBeUndefined();
    expect(zero.lookup('openai/zero-chat')).toBeUndefined();
    expect(zero.lookup('free-chat')?.id).toBe('free-chat');
    expect(zero.lookup('paid-chat')?.id).toBe('paid-chat');
  });

  it('counts a chat entry with no token price as $0 even with per-second or cache prices', () => {
    expect(zero.lookup('per-second-chat')).toBeUndefined();
    expect(zero.lookup('cache-only')).toBeUndefined();
  });

  it('explains why a $0 entry is refused', () => {
    const x = zero.explain('zero-alias');
    expect(x).toMatchObject({ resolvedId: 'zero-chat', resolvedVia: 'alias', unpriced: 'zero_price' });
    expect(x.detail).toContain('free');
  });

  it('the shipped table has no usable $0 entry that is not marked free', () => {
    for (const [id, e] of table.entries()) {
      const m = table.lookup(id);
      if (m && m.id === id) expect(e.free === true || !!(e.input || e.output || e.per_image || e.per_second || e.per_character || e.tiers?.length), id).toBe(true);
    }
    expect(table.lookup('codestral/codestral-2405')).toBeUndefined();
    expect(table.explain('codestral/codestral-2405').unpriced).toBe('zero_price');
  });
});
