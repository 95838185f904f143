import { describe, expect, it } from 'vitest';
import { anthropicStreamMeter, chatStreamMeter } from '../../src/client/stream-usage.js';

// The stream meters alone: which chunks the caller sees, and what an
// unfinished stream is charged.

const delta = (content: string) => ({ choices: [{ index: 0, delta: { content } }] });
const usageChunk = { choices: [], usage: { prompt_tokens: 11, completion_tokens: 3, prompt_tokens_details: { cached_tokens: 2 } } };

describe('chat stream meter', () => {
  it('hides the usage-only chunk it asked for, and reads its usage', () => {
    const m = chatStreamMeter(true);
    expect([delta('tok0 '), delta('tok1'), usageChunk].map((c) => m.observe(c))).toEqual([true, true, false]);
    expect(m.reported()).toEqual({ prompt: 11, completion: 3, cached: 2, cacheWrite: 0 });
    expect(m.generatedChars()).toBe(9);
  });

  it('shows the usage chunk when the caller asked for it', () => {
    expect(chatStreamMeter(false).observe(usageChunk)).toBe(true);
  });

  it('counts tool-call arguments as generated text', () => {
    const m = chatStreamMeter(true);
    m.observe({ choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"x":1}' } }] } }] });
    expect(m.generatedChars()).toBe(7);
    expect(m.reported()).toBeUndefined();
  });
});

describe('anthropic stream meter', () => {
  const start = { type: 'message_start', message: { usage: { input_tokens: 5, cache_read_input_tokens: 4, cache_creation_input_tokens: 2, output_tokens: 1 } } };

  it('charges the reported input and estimates the output of a stream cut before message_delta', () => {
    const m = anthropicStreamMeter();
    m.observe(start);
    m.observe({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'tok0 tok1 tok2 ' } });
    expect(m.reported()).toEqual({ prompt: 11, completion: 4, cached: 4, cacheWrite: 2 });
  });

  it('takes the final output count from message_delta', () => {
    const m = anthropicStreamMeter();
    m.observe(start);
    m.observe({ type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'tok0 tok1 tok2 ' } });
    m.observe({ type: 'message_delta', delta: { stop_reason: 'end_turn' }, usage: { output_tokens: 3 } });
    expect(m.reported()).toEqual({ prompt: 11, completion: 3, cached: 4, cacheWrite: 2 });
  });
});
