import { describe, expect, it } from 'vitest';
import { parseCall } from '../../src/protocols/call.js';
import { chatOverMessages } from '../../src/protocols/translate/chat-over-messages.js';
import { messagesOverChat } from '../../src/protocols/translate/messages-over-chat.js';

function body(r: { ok: boolean; body?: string; problem?: string }) {
  if (!r.ok) throw new Error(r.problem);
  return JSON.parse(r.body!);
}

describe('an OpenAI chat request sent to an Anthropic target', () => {
  it('moves system messages to `system`, tool calls to tool_use, tool answers to tool_result, and merges turns', () => {
    const call = parseCall('chat', {
      model: 'smart',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'developer', content: [{ type: 'text', text: 'Use tools.' }] },
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'call_1', content: '18C' },
        { role: 'user', content: [{ type: 'text', text: 'And this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,AAAA' } }] },
      ],
      tools: [{ type: 'function', function: { name: 'weather', description: 'w', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      tool_choice: 'required',
      parallel_tool_calls: false,
      stop: 'END',
      temperature: 1.6,
      top_p: 0.9,
      max_completion_tokens: 77,
      stream: true,
      user: 'u-1',
      seed: 3,
    });
    const b = body(chatOverMessages.request(call, { model: 'claude-haiku-4-5', maxTokens: 77 }));
    expect(b).toEqual({
      model: 'claude-haiku-4-5',
      max_tokens: 77,
      system: 'Be brief.\n\nUse tools.',
      messages: [
        { role: 'user', content: [{ type: 'text', text: 'Weather in Paris?' }] },
        { role: 'assistant', content: [{ type: 'tool_use', id: 'call_1', name: 'weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [
          { type: 'tool_result', tool_use_id: 'call_1', content: '18C' },
          { type: 'text', text: 'And this?' },
          { type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AAAA' } },
        ] },
      ],
      temperature: 1,
      top_p: 0.9,
      stop_sequences: ['END'],
      metadata: { user_id: 'u-1' },
      tools: [{ name: 'weather', description: 'w', input_schema: { type: 'object', properties: { city: { type: 'string' } } } }],
      tool_choice: { type: 'any', disable_parallel_tool_use: true },
      stream: true,
    });
  });

  it('refuses what Anthropic cannot do instead of silently changing the answer', () => {
    const n2 = chatOverMessages.request(parseCall('chat', { model: 'm', messages: [], n: 2 }), { model: 'c', maxTokens: 5 });
    expect(n2).toEqual({ ok: false, problem: '"n" > 1 has no Anthropic equivalent' });
    const json = chatOverMessages.request(parseCall('chat', { model: 'm', messages: [], response_format: { type: 'json_schema' } }), { model: 'c', maxTokens: 5 });
    expect(json.ok).toBe(false);
  });
});

describe('an Anthropic messages request sent to an OpenAI target', () => {
  it('turns system into a system message, tool_use into tool_calls and tool_result into tool messages', () => {
    const call = parseCall('messages', {
      model: 'smart',
      max_tokens: 64,
      system: [{ type: 'text', text: 'Be brief.' }],
      messages: [
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: [{ type: 'text', text: 'Checking.' }, { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } }] },
        { role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: '18C' }] }, { type: 'text', text: 'Thanks' }] },
      ],
      tools: [{ name: 'weather', description: 'w', input_schema: { type: 'object' } }],
      tool_choice: { type: 'tool', name: 'weather', disable_parallel_tool_use: true },
      stop_sequences: ['END'],
      temperature: 0.3,
      top_k: 5,
      metadata: { user_id: 'u-1' },
      stream: true,
    });
    const b = body(messagesOverChat.request(call, { model: 'gpt-4o-mini', maxTokens: 64 }));
    expect(b).toEqual({
      model: 'gpt-4o-mini',
      max_tokens: 64,
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Paris?' },
        { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 'toolu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'toolu_1', content: '18C' },
        { role: 'user', content: 'Thanks' },
      ],
      temperature: 0.3,
      stop: ['END'],
      user: 'u-1',
      tools: [{ type: 'function', function: { name: 'weather', description: 'w', parameters: { type: 'object' } } }],
      tool_choice: { type: 'function', function: { name: 'weather' } },
      parallel_tool_calls: false,
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('asks reasoning models for max_completion_tokens', () => {
    const call = parseCall('messages', { model: 's', max_tokens: 9, messages: [{ role: 'user', content: 'hi' }] });
    expect(body(messagesOverChat.request(call, { model: 'o3-mini', maxTokens: 9 })).max_completion_tokens).toBe(9);
  });
});
