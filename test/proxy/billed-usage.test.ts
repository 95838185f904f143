import { describe, expect, it } from 'vitest';
import { parseCall } from '../../src/protocols/call.ts';
import { openaiChatUsage } from '../../src/protocols/usage-from-body.ts';
import { billedUsage, outputCeiling } from '../../src/proxy/billed-usage.ts';

const call = parseCall('chat', { model: 'm', max_tokens: 10, n: 2, messages: [{ role: 'user', content: 'hi there' }] });
const fixed = (prompt: number, completion: number, exact = true) => async () => ({ counts: [prompt, completion], exact });
const relayed = { text: 'generated', textComplete: true, bytes: 400 };

describe('which usage a call is billed for', () => {
  it('takes valid provider usage as it is', async () => {
    const b = await billedUsage(fixed(1, 1), call, openaiChatUsage({ prompt_tokens: 7, completion_tokens: 12 }), relayed, { maxOutput: 20 }, true);
    expect(b).toEqual({ usage: expect.objectContaining({ promptTokens: 7, completionTokens: 12 }), source: 'provider' });
  });

  it('replaces only the invalid field by its own count and says why', async () => {
    const b = await billedUsage(fixed(5, 9), call, openaiChatUsage({ prompt_tokens: 7, completion_tokens: -3 }), relayed, {}, true);
    expect(b.usage).toMatchObject({ promptTokens: 7, completionTokens: 9 });
    expect(b.invalid).toBe('completion_tokens=-3');
  });

  it('treats output beyond twice max_tokens × n as impossible', async () => {
    expect(outputCeiling(call, 10)).toBe(20);
    const b = await billedUsage(fixed(5, 9), call, openaiChatUsage({ prompt_tokens: 7, completion_tokens: 500 }), relayed, { maxOutput: 20 }, true);
    expect(b.usage.completionTokens).toBe(9);
    expect(b.invalid).toMatch(/beyond max_tokens × n = 20/);
  });

  it('marks a count that fell back to bytes as an estimate, and bounds text it did not keep by the bytes received', async () => {
    const b = await billedUsage(fixed(5, 3, false), call, undefined, { text: '', textComplete: false, bytes: 400 }, {}, false);
    expect(b).toMatchObject({ source: 'estimate', usage: { promptTokens: 5, completionTokens: 400 } });
  });

  it('counts token-id prompts one token per id', async () => {
    const emb = parseCall('embeddings', { model: 'e', input: [[1, 2, 3, 4], [5, 6]] });
    const b = await billedUsage(fixed(0, 0), emb, undefined, { text: '', textComplete: true, bytes: 0 }, {}, true);
    expect(b.usage.promptTokens).toBe(6);
  });

  it('bills at least the estimate for a prompt with media text counting cannot see', async () => {
    const img = parseCall('chat', { model: 'm', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:image/png;base64,' + 'A'.repeat(30_000) } }] }] });
    const b = await billedUsage(fixed(1, 0), img, undefined, { text: '', textComplete: true, bytes: 0 }, {}, true);
    expect(b.usage.promptTokens).toBe(img.promptTokensEstimate);
  });
});
