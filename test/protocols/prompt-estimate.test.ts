import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { parseCall, BadRequest } from '../../src/protocols/call.js';
import { tokenizerPromptTokens } from '../../bench/mock-prompt-tokens.mjs';
import { bodies } from './estimate-arbitraries.js';

// The prompt estimate against a provider-like count (tiktoken, message
// overheads, the vendors' media rules: bench/mock-prompt-tokens.mjs) on
// random bodies of every endpoint: it is never below it.

describe('prompt estimate', () => {
  for (const [endpoint, { path, body }] of Object.entries(bodies)) {
    it(`is at least the provider's prompt count for random ${endpoint} bodies`, () => {
      fc.assert(fc.property(body, (b) => {
        const call = parseCall(endpoint as keyof typeof bodies, b);
        const billed = tokenizerPromptTokens(path, b);
        return call.promptTokensEstimate >= billed;
      }), { numRuns: 400 });
    });
  }

  it('reserves per choice: choices is the larger of n and best_of', () => {
    const msg = [{ role: 'user', content: 'hi' }];
    expect(parseCall('chat', { model: 'm', messages: msg }).choices).toBe(1);
    expect(parseCall('chat', { model: 'm', messages: msg, n: 100 }).choices).toBe(100);
    expect(parseCall('chat', { model: 'm', messages: msg, n: 2, best_of: 5 }).choices).toBe(5);
    for (const n of [0, 129, 1.5, '3', 1e300]) expect(() => parseCall('chat', { model: 'm', messages: msg, n })).toThrow(BadRequest);
  });

  it('counts a token-id array one token per id', () => {
    const ids = Array.from({ length: 5_000 }, (_, i) => i);
    const one = parseCall('embeddings', { model: 'text-embedding-3-small', input: ids }).promptTokensEstimate;
    const two = parseCall('embeddings', { model: 'text-embedding-3-small', input: [ids, ids] }).promptTokensEstimate;
    expect(one).toBeGreaterThanOrEqual(5_000);
    expect(one).toBeLessThan(5_100);
    expect(two - one).toBe(5_000);
  });

  it('never counts a base64-looking prompt as less than its text', () => {
    const content = 'QUJD'.repeat(50) + 'x'.repeat(100_000);
    const call = parseCall('chat', { model: 'gpt-4o', messages: [{ role: 'user', content }] });
    expect(call.promptTokensEstimate).toBeGreaterThan(50_000);
  });
});

describe('prompt estimate on mixed token arrays', () => {
  it('counts text mixed into a token-id array as text', () => {
    const text = 'lorem ipsum dolor sit amet '.repeat(4_000);
    const call = parseCall('embeddings', { model: 'text-embedding-3-small', input: [[1, 2], text] });
    expect(call.promptTokensEstimate).toBeGreaterThan(text.length / 6);
  });
});

describe('prompt estimate by tokenizer kind', () => {
  it("is more cautious for a model whose tokenizer is not OpenAI's, also when a route sends the call there", () => {
    const messages = [{ role: 'user', content: ' nevertheless'.repeat(200) }];
    const gpt = parseCall('chat', { model: 'gpt-4o', messages });
    const claude = parseCall('chat', { model: 'claude-haiku-4-5', messages });
    expect(claude.promptTokensEstimate).toBeGreaterThan(gpt.promptTokensEstimate + 400);
    expect(gpt.promptTokensFor('claude-haiku-4-5')).toBe(claude.promptTokensEstimate);
    expect(gpt.promptTokensFor('gpt-4o-mini')).toBe(gpt.promptTokensEstimate);
  });
});
