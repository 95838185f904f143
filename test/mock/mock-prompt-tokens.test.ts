import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startMockUpstream, validateBehaviorPatch } from '../../bench/mock-upstream.mjs';
import { tokenizerPromptTokens } from '../../bench/mock-prompt-tokens.mjs';

// The mock's opt-in provider-like prompt count, and completion tokens billed per choice.

let mock: Awaited<ReturnType<typeof startMockUpstream>>;
let client: OpenAI;

beforeAll(async () => {
  mock = await startMockUpstream({ promptTokens: 'tokenizer', completionTokens: 5 });
  client = new OpenAI({ apiKey: 'k', baseURL: `${mock.url}/v1`, maxRetries: 0 });
});

afterAll(async () => {
  await mock?.close();
});

describe('mock prompt tokens by tokenizer', () => {
  it('counts a chat prompt as OpenAI does: 3 per message, its role and text, 3 for the reply', async () => {
    const r = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'Hello world' }] });
    // 3 (reply) + 3 (message) + "user" (1) + "Hello world" (2)
    expect(r.usage!.prompt_tokens).toBe(9);
  });

  it('counts token ids one each and images by the vendor rules', () => {
    expect(tokenizerPromptTokens('/v1/embeddings', { model: 'text-embedding-3-small', input: [[1, 2, 3], [4]] })).toBe(4);
    const low = { model: 'gpt-4o', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://x/y.png', detail: 'low' } }] }] };
    expect(tokenizerPromptTokens('/v1/chat/completions', low)).toBe(3 + 3 + 1 + 85);
  });

  it('reports completion tokens for every choice of n', async () => {
    const r = await client.chat.completions.create({ model: 'gpt-4o', messages: [{ role: 'user', content: 'hi' }], n: 4 });
    expect(r.usage!.completion_tokens).toBe(20);
  });

  it("accepts 'tokenizer' as the only non-numeric promptTokens", () => {
    expect(validateBehaviorPatch({ promptTokens: 'tokenizer' })).toEqual({ promptTokens: 'tokenizer' });
    expect(() => validateBehaviorPatch({ promptTokens: 'words' })).toThrow(TypeError);
  });
});
