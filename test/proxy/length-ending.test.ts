import { describe, expect, it } from 'vitest';
import { StreamTracker } from '../../src/protocols/stream-tracker.js';
import { parseEvent } from '../../src/protocols/sse.js';

// The ending Tollgate writes when it cuts a stream at the budget looks like
// the upstream's own ending of an answer that reached its cap.

const sse = (j: unknown, event?: string) => `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(j)}\n\n`;
const datas = (events: string[]) => events.map((e) => parseEvent(e).data);

describe('the ending of a stream cut at the budget', () => {
  it('gives every chat choice finish_reason length, keeps the stream\'s id, and ends with [DONE]', () => {
    const t = new StreamTracker('chat', false);
    for (const index of [0, 1]) t.inspect(sse({ id: 'chatcmpl-9', object: 'chat.completion.chunk', created: 1700000000, model: 'gpt-4o-mini', choices: [{ index, delta: { content: 'hi' } }] }));
    const out = t.lengthEnding({ promptTokens: 5, completionTokens: 7 });
    expect(out).toHaveLength(2); // no usage chunk: the client did not ask for one
    const last = JSON.parse(datas(out)[0]!);
    expect(last).toMatchObject({ id: 'chatcmpl-9', created: 1700000000, model: 'gpt-4o-mini' });
    expect(last.choices.map((c: any) => [c.index, c.finish_reason])).toEqual([[0, 'length'], [1, 'length']]);
    expect(datas(out)[1]).toBe('[DONE]');
  });

  it('adds the usage chunk billed when the client asked for it', () => {
    const t = new StreamTracker('chat', true);
    t.inspect(sse({ id: 'c', choices: [{ index: 0, delta: { content: 'hi' } }] }));
    const usage = JSON.parse(datas(t.lengthEnding({ promptTokens: 5, completionTokens: 7 }))[1]!);
    expect(usage).toMatchObject({ choices: [], usage: { prompt_tokens: 5, completion_tokens: 7, total_tokens: 12 } });
  });

  it('closes the open Anthropic block before message_delta with stop_reason max_tokens', () => {
    const t = new StreamTracker('messages', true);
    t.inspect(sse({ type: 'content_block_start', index: 1, content_block: { type: 'text', text: '' } }, 'content_block_start'));
    const out = t.lengthEnding({ promptTokens: 5, completionTokens: 7 }).map((e) => parseEvent(e));
    expect(out.map((e) => e.event)).toEqual(['content_block_stop', 'message_delta', 'message_stop']);
    expect(JSON.parse(out[0]!.data!)).toEqual({ type: 'content_block_stop', index: 1 });
    expect(JSON.parse(out[1]!.data!)).toMatchObject({ delta: { stop_reason: 'max_tokens' }, usage: { output_tokens: 7 } });
  });

  it('ends a Responses stream with response.incomplete carrying the response it began', () => {
    const t = new StreamTracker('responses', true);
    t.inspect(sse({ type: 'response.created', response: { id: 'resp_1', object: 'response', created_at: 1, model: 'gpt-4o-mini', status: 'in_progress' } }, 'response.created'));
    const [ev] = t.lengthEnding({ promptTokens: 5, completionTokens: 7 }).map((e) => parseEvent(e));
    expect(ev!.event).toBe('response.incomplete');
    expect(JSON.parse(ev!.data!).response).toMatchObject({ id: 'resp_1', status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' }, usage: { input_tokens: 5, output_tokens: 7 } });
  });
});
