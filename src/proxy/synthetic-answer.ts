import type { EndpointId } from '../protocols/call.js';

// An answer the proxy writes itself (friendly budget refusal, /balance), in
// the calling protocol's exact shapes so each official SDK parses it as a
// normal assistant message, streamed or not. Usage is zero: nothing is charged.

export interface SyntheticAnswer { contentType: string; body: string }

export function syntheticAnswer(endpoint: EndpointId, model: string, text: string, stream: boolean, id: string, now: number): SyntheticAnswer {
  const created = Math.floor(now / 1000);
  switch (endpoint) {
    case 'messages':
      return stream ? sse(anthropicEvents(model, text, id)) : json({
        id: `msg_${id}`, type: 'message', role: 'assistant', model,
        content: [{ type: 'text', text }], stop_reason: 'end_turn', stop_sequence: null,
        usage: { input_tokens: 0, output_tokens: 0, cache_creation_input_tokens: 0, cache_read_input_tokens: 0 },
      });
    case 'responses': {
      const response = (status: string, output: unknown[]) => ({
        id: `resp_${id}`, object: 'response', created_at: created, status, model, output,
        usage: status === 'completed' ? { input_tokens: 0, output_tokens: 0, total_tokens: 0, input_tokens_details: { cached_tokens: 0 }, output_tokens_details: { reasoning_tokens: 0 } } : null,
        error: null, incomplete_details: null, instructions: null, metadata: {}, parallel_tool_calls: true, temperature: null, tool_choice: 'auto', tools: [], top_p: null,
      });
      const item = { id: `msg_${id}`, type: 'message', role: 'assistant', status: 'completed', content: [{ type: 'output_text', text, annotations: [] }] };
      if (!stream) return json(response('completed', [item]));
      let seq = 0;
      const ev = (type: string, data: Record<string, unknown>) => `event: ${type}\ndata: ${JSON.stringify({ type, sequence_number: seq++, ...data })}\n\n`;
      const part = { type: 'output_text', text: '', annotations: [] };
      return {
        contentType: 'text/event-stream; charset=utf-8',
        body:
          ev('response.created', { response: response('in_progress', []) }) +
          ev('response.output_item.added', { output_index: 0, item: { ...item, status: 'in_progress', content: [] } }) +
          ev('response.content_part.added', { item_id: item.id, output_index: 0, content_index: 0, part }) +
          ev('response.output_text.delta', { item_id: item.id, output_index: 0, content_index: 0, delta: text }) +
          ev('response.output_text.done', { item_id: item.id, output_index: 0, content_index: 0, text }) +
          ev('response.content_part.done', { item_id: item.id, output_index: 0, content_index: 0, part: { ...part, text } }) +
          ev('response.output_item.done', { output_index: 0, item }) +
          ev('response.completed', { response: response('completed', [item]) }),
      };
    }
    default: {
      const base = { id: `chatcmpl-${id}`, created, model, system_fingerprint: null };
      if (!stream) {
        return json({
          ...base, object: 'chat.completion',
          choices: [{ index: 0, message: { role: 'assistant', content: text, refusal: null }, logprobs: null, finish_reason: 'stop' }],
          usage: { prompt_tokens: 0, completion_tokens: 0, total_tokens: 0 },
        });
      }
      const chunk = (delta: unknown, finish: string | null) => `data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
      return {
        contentType: 'text/event-stream; charset=utf-8',
        body: chunk({ role: 'assistant', content: '' }, null) + chunk({ content: text }, null) + chunk({}, 'stop') + 'data: [DONE]\n\n',
      };
    }
  }
}

function json(o: unknown): SyntheticAnswer {
  return { contentType: 'application/json', body: JSON.stringify(o) };
}

function sse(events: [string, unknown][]): SyntheticAnswer {
  return { contentType: 'text/event-stream; charset=utf-8', body: events.map(([e, d]) => `event: ${e}\ndata: ${JSON.stringify(d)}\n\n`).join('') };
}

function anthropicEvents(model: string, text: string, id: string): [string, unknown][] {
  return [
    ['message_start', { type: 'message_start', message: { id: `msg_${id}`, type: 'message', role: 'assistant', model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: 0, output_tokens: 0 } } }],
    ['content_block_start', { type: 'content_block_start', index: 0, content_block: { type: 'text', text: '' } }],
    ['content_block_delta', { type: 'content_block_delta', index: 0, delta: { type: 'text_delta', text } }],
    ['content_block_stop', { type: 'content_block_stop', index: 0 }],
    ['message_delta', { type: 'message_delta', delta: { stop_reason: 'end_turn', stop_sequence: null }, usage: { output_tokens: 0 } }],
    ['message_stop', { type: 'message_stop' }],
  ];
}

const BACKSLASH_U = Buffer.from('\\u');
const BACKSLASH_SLASH = Buffer.from('\\/');
let escapedMemo: [string, Buffer] = ['', Buffer.alloc(0)];

/**
 * Whether a raw JSON body may hold `command` as (the whole of) a string:
 * its JSON-escaped bytes are there, or an optional escape (\u..., \/)
 * that could spell it. False lets a call skip parsing its body for the
 * command (the native path parses a body only when something needs it).
 * A command split across several content parts is not recognised.
 */
export function mayHoldCommand(raw: Buffer, command: string): boolean {
  if (escapedMemo[0] !== command) escapedMemo = [command, Buffer.from(JSON.stringify(command).slice(1, -1))];
  return raw.includes(escapedMemo[1]) || raw.includes(BACKSLASH_U) || raw.includes(BACKSLASH_SLASH);
}

/** The text of the last user message, for commands like /balance. */
export function lastUserText(endpoint: EndpointId, body: Record<string, unknown>): string | undefined {
  if (endpoint === 'responses') {
    if (typeof body.input === 'string') return body.input.trim();
    if (Array.isArray(body.input)) return textOf([...body.input].reverse().find((m: any) => m?.role === 'user')?.content);
    return undefined;
  }
  if (!Array.isArray(body.messages)) return undefined;
  const last = body.messages[body.messages.length - 1] as any;
  return last?.role === 'user' ? textOf(last.content) : undefined;
}

function textOf(content: unknown): string | undefined {
  if (typeof content === 'string') return content.trim();
  if (Array.isArray(content)) {
    const texts = content.filter((p: any) => p && (p.type === 'text' || p.type === 'input_text') && typeof p.text === 'string').map((p: any) => p.text);
    return texts.length ? texts.join('').trim() : undefined;
  }
  return undefined;
}
