import { describe, expect, it } from 'vitest';
import { parseCall } from '../../src/protocols/call.js';
import { parseEvent } from '../../src/protocols/sse.js';
import { chatOverMessages } from '../../src/protocols/translate/chat-over-messages.js';
import { messagesOverChat } from '../../src/protocols/translate/messages-over-chat.js';

const ev = (type: string, data: unknown) => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`;
const chunk = (data: unknown) => `data: ${JSON.stringify(data)}\n\n`;

function events(sse: string) {
  return sse.split('\n\n').filter(Boolean).map((e) => {
    const { event, data } = parseEvent(e + '\n\n');
    return { event, data: data === '[DONE]' ? data : JSON.parse(data) };
  });
}

describe('answers from an Anthropic target for an OpenAI client', () => {
  it('a whole answer becomes a chat.completion with tool calls, finish reason and usage', () => {
    const out: any = chatOverMessages.answer({
      id: 'msg_1', type: 'message', model: 'claude-haiku-4-5', stop_reason: 'tool_use',
      content: [{ type: 'text', text: 'Let me check.' }, { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } }],
      usage: { input_tokens: 10, cache_read_input_tokens: 5, cache_creation_input_tokens: 0, output_tokens: 7 },
    }, 1700000000);
    expect(out).toEqual({
      id: 'chatcmpl-msg_1', object: 'chat.completion', created: 1700000000, model: 'claude-haiku-4-5',
      choices: [{ index: 0, logprobs: null, finish_reason: 'tool_calls', message: {
        role: 'assistant', content: 'Let me check.', refusal: null,
        tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
      } }],
      usage: { prompt_tokens: 15, completion_tokens: 7, total_tokens: 22, prompt_tokens_details: { cached_tokens: 5 } },
    });
  });

  it('a stream becomes chat chunks ending in a usage chunk (when asked) and [DONE]', () => {
    const call = parseCall('chat', { model: 'm', messages: [], stream: true, stream_options: { include_usage: true } });
    const t = chatOverMessages.stream(call, 1700000000);
    const out = [
      ev('message_start', { type: 'message_start', message: { id: 'msg_1', model: 'claude-haiku-4-5', usage: { input_tokens: 9, output_tokens: 1 } } }),
      ev('content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }),
      ev('ping', { type: 'ping' }),
      ev('content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text: 'Hi' } }),
      ev('content_block_stop', { type: 'content_block_stop', index: 0 }),
      ev('content_block_start', { type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'toolu_1', name: 'weather', input: {} } }),
      ev('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '{"x":' } }),
      ev('content_block_delta', { type: 'content_block_delta', index: 1, delta: { type: 'input_json_delta', partial_json: '1}' } }),
      ev('content_block_stop', { type: 'content_block_stop', index: 1 }),
      ev('message_delta', { type: 'message_delta', delta: { stop_reason: 'tool_use' }, usage: { output_tokens: 12 } }),
      ev('message_stop', { type: 'message_stop' }),
    ].map((e) => t.push(e)).join('');
    const got = events(out).map((e) => e.data);
    expect(got.map((d: any) => (d === '[DONE]' ? d : d.choices[0]?.delta ?? 'usage'))).toEqual([
      { role: 'assistant', content: '' },
      { content: 'Hi' },
      { tool_calls: [{ index: 0, id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '{"x":' } }] },
      { tool_calls: [{ index: 0, function: { arguments: '1}' } }] },
      {},
      'usage',
      '[DONE]',
    ]);
    expect((got[5] as any).choices[0].finish_reason).toBe('tool_calls');
    expect((got[6] as any).usage).toEqual({ prompt_tokens: 9, completion_tokens: 12, total_tokens: 21, prompt_tokens_details: { cached_tokens: 0 } });
  });

  it('an upstream error body takes the OpenAI shape', () => {
    expect(chatOverMessages.error('{"type":"error","error":{"type":"invalid_request_error","message":"bad"}}'))
      .toEqual({ error: { type: 'invalid_request_error', code: 'invalid_request_error', message: 'bad' } });
  });
});

describe('answers from an OpenAI target for an Anthropic client', () => {
  it('a whole answer becomes a message with content blocks, stop reason and usage', () => {
    const out: any = messagesOverChat.answer({
      id: 'chatcmpl-1', model: 'gpt-4o-mini',
      choices: [{ index: 0, finish_reason: 'length', message: { role: 'assistant', content: 'Hello', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'f', arguments: '{"a":2}' } }] } }],
      usage: { prompt_tokens: 20, completion_tokens: 4, prompt_tokens_details: { cached_tokens: 8 } },
    }, 0);
    expect(out).toEqual({
      id: 'msg_chatcmpl-1', type: 'message', role: 'assistant', model: 'gpt-4o-mini',
      content: [{ type: 'text', text: 'Hello' }, { type: 'tool_use', id: 'call_1', name: 'f', input: { a: 2 } }],
      stop_reason: 'max_tokens', stop_sequence: null,
      usage: { input_tokens: 12, cache_creation_input_tokens: 0, cache_read_input_tokens: 8, output_tokens: 4 },
    });
  });

  it('a stream becomes the Anthropic event sequence, with usage on message_delta', () => {
    const call = parseCall('messages', { model: 'm', max_tokens: 5, messages: [], stream: true });
    const t = messagesOverChat.stream(call, 0);
    const base = { id: 'c1', object: 'chat.completion.chunk', model: 'gpt-4o-mini' };
    const out = [
      chunk({ ...base, choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }] }),
      chunk({ ...base, choices: [{ index: 0, delta: { content: 'Hi' }, finish_reason: null }] }),
      chunk({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, id: 'call_1', type: 'function', function: { name: 'f', arguments: '' } }] }, finish_reason: null }] }),
      chunk({ ...base, choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"a":1}' } }] }, finish_reason: null }] }),
      chunk({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'tool_calls' }] }),
      chunk({ ...base, choices: [], usage: { prompt_tokens: 11, completion_tokens: 6 } }),
      'data: [DONE]\n\n',
    ].map((e) => t.push(e)).join('');
    const got = events(out);
    expect(got.map((e) => e.event)).toEqual([
      'message_start',
      'content_block_start', 'content_block_delta', 'content_block_stop',
      'content_block_start', 'content_block_delta', 'content_block_stop',
      'message_delta', 'message_stop',
    ]);
    expect(got[1]!.data.content_block).toEqual({ type: 'text', text: '' });
    expect(got[2]!.data.delta).toEqual({ type: 'text_delta', text: 'Hi' });
    expect(got[4]!.data).toEqual({ type: 'content_block_start', index: 1, content_block: { type: 'tool_use', id: 'call_1', name: 'f', input: {} } });
    expect(got[5]!.data.delta).toEqual({ type: 'input_json_delta', partial_json: '{"a":1}' });
    expect(got[7]!.data).toEqual({ type: 'message_delta', delta: { stop_reason: 'tool_use', stop_sequence: null }, usage: { input_tokens: 11, cache_creation_input_tokens: 0, cache_read_input_tokens: 0, output_tokens: 6 } });
  });
});
