import type { ParsedCall } from '../call.js';
import { anthropicUsage } from '../usage-from-body.js';
import { parseEvent } from '../sse.js';
import { errorParts, parseArguments, sse, type RequestOptions, type StreamTranslator, type TranslatedRequest, type Translation } from './translation.js';

// An OpenAI chat-completions client served by an Anthropic messages
// upstream. Request: system/developer messages → `system`, tool calls →
// tool_use blocks, tool messages → tool_result blocks (consecutive
// same-role messages merged, as Anthropic requires alternation), tools and
// tool_choice, stop → stop_sequences, temperature clamped to Anthropic's
// 0..1. Answer: content blocks → message text and tool_calls, stop_reason →
// finish_reason, usage → OpenAI usage (cache reads as cached_tokens).

type Obj = Record<string, any>;
type Block = Obj;

const FINISH: Record<string, string> = {
  end_turn: 'stop', stop_sequence: 'stop', pause_turn: 'stop',
  max_tokens: 'length', model_context_window_exceeded: 'length',
  tool_use: 'tool_calls', refusal: 'content_filter',
};

const finishReason = (stop: unknown): string => (typeof stop === 'string' && FINISH[stop]) || 'stop';

function request(call: ParsedCall, opts: RequestOptions): TranslatedRequest {
  const b = call.body as Obj;
  if (typeof b.n === 'number' && b.n > 1) return { ok: false, problem: '"n" > 1 has no Anthropic equivalent' };
  const rf = b.response_format?.type;
  if (rf && rf !== 'text') return { ok: false, problem: `response_format "${rf}" has no Anthropic equivalent` };
  if (Array.isArray(b.modalities) && b.modalities.includes('audio')) return { ok: false, problem: 'audio output has no Anthropic equivalent' };

  const system: string[] = [];
  const messages: { role: 'user' | 'assistant'; content: Block[] }[] = [];
  const push = (role: 'user' | 'assistant', blocks: Block[]) => {
    if (!blocks.length) return;
    const last = messages[messages.length - 1];
    if (last && last.role === role) last.content.push(...blocks);
    else messages.push({ role, content: blocks });
  };
  for (const m of b.messages as Obj[]) {
    if (!m || typeof m !== 'object') return { ok: false, problem: 'every message must be an object' };
    switch (m.role) {
      case 'system':
      case 'developer':
        system.push(textOf(m.content));
        break;
      case 'user': {
        const blocks = userBlocks(m.content);
        if (typeof blocks === 'string') return { ok: false, problem: blocks };
        push('user', blocks);
        break;
      }
      case 'assistant': {
        const blocks: Block[] = [];
        const text = textOf(m.content);
        if (text) blocks.push({ type: 'text', text });
        for (const tc of Array.isArray(m.tool_calls) ? m.tool_calls : []) {
          blocks.push({ type: 'tool_use', id: tc.id, name: tc.function?.name, input: parseArguments(tc.function?.arguments) });
        }
        if (m.function_call) return { ok: false, problem: 'legacy function_call messages are not translated; use tools' };
        push('assistant', blocks);
        break;
      }
      case 'tool':
        push('user', [{ type: 'tool_result', tool_use_id: m.tool_call_id, content: textOf(m.content) }]);
        break;
      default:
        return { ok: false, problem: `message role "${m.role}" has no Anthropic equivalent` };
    }
  }

  const out: Obj = { model: opts.model, max_tokens: opts.maxTokens, messages };
  const sys = system.filter(Boolean).join('\n\n');
  if (sys) out.system = sys;
  if (typeof b.temperature === 'number') out.temperature = Math.min(1, Math.max(0, b.temperature));
  if (typeof b.top_p === 'number') out.top_p = b.top_p;
  if (typeof b.stop === 'string') out.stop_sequences = [b.stop];
  else if (Array.isArray(b.stop) && b.stop.length) out.stop_sequences = b.stop;
  if (typeof b.user === 'string') out.metadata = { user_id: b.user };
  if (Array.isArray(b.tools) && b.tools.length) {
    const tools: Obj[] = [];
    for (const t of b.tools as Obj[]) {
      if (t?.type !== 'function' || !t.function?.name) return { ok: false, problem: `tool type "${t?.type}" has no Anthropic equivalent` };
      tools.push({
        name: t.function.name,
        ...(t.function.description ? { description: t.function.description } : {}),
        input_schema: t.function.parameters ?? { type: 'object', properties: {} },
      });
    }
    out.tools = tools;
    const choice = toolChoice(b.tool_choice);
    if (b.parallel_tool_calls === false && choice.type !== 'none') choice.disable_parallel_tool_use = true;
    if (b.tool_choice !== undefined || b.parallel_tool_calls === false) out.tool_choice = choice;
  }
  if (call.stream) out.stream = true;
  return { ok: true, body: JSON.stringify(out) };
}

function toolChoice(c: unknown): Obj {
  if (c === 'none') return { type: 'none' };
  if (c === 'required') return { type: 'any' };
  if (c && typeof c === 'object' && (c as Obj).function?.name) return { type: 'tool', name: (c as Obj).function.name };
  return { type: 'auto' };
}

/** Text of an OpenAI content field (string, or parts of which the text ones count). */
function textOf(c: unknown): string {
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map((p) => (typeof p === 'string' ? p : p?.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('');
  return '';
}

function userBlocks(c: unknown): Block[] | string {
  if (typeof c === 'string') return [{ type: 'text', text: c }];
  if (!Array.isArray(c)) return [];
  const out: Block[] = [];
  for (const p of c as Obj[]) {
    if (p?.type === 'text') out.push({ type: 'text', text: p.text });
    else if (p?.type === 'image_url') {
      const url: string = typeof p.image_url === 'string' ? p.image_url : p.image_url?.url;
      const m = /^data:([^;,]+);base64,(.*)$/s.exec(url ?? '');
      out.push(m ? { type: 'image', source: { type: 'base64', media_type: m[1], data: m[2] } } : { type: 'image', source: { type: 'url', url } });
    } else return `content part "${p?.type}" has no Anthropic equivalent`;
  }
  return out;
}

function usageOf(u: Obj | undefined): Obj | undefined {
  const n = anthropicUsage(u);
  if (!n) return undefined;
  return {
    prompt_tokens: n.promptTokens,
    completion_tokens: n.completionTokens,
    total_tokens: n.promptTokens + n.completionTokens,
    prompt_tokens_details: { cached_tokens: n.cachedTokens },
  };
}

function answer(j: Obj, nowSec: number): unknown {
  let text = '';
  const toolCalls: Obj[] = [];
  for (const blk of Array.isArray(j.content) ? j.content : []) {
    if (blk?.type === 'text') text += blk.text ?? '';
    else if (blk?.type === 'tool_use') {
      toolCalls.push({ id: blk.id, type: 'function', function: { name: blk.name, arguments: JSON.stringify(blk.input ?? {}) } });
    }
  }
  const message: Obj = { role: 'assistant', content: text || (toolCalls.length ? null : ''), refusal: null };
  if (toolCalls.length) message.tool_calls = toolCalls;
  const out: Obj = {
    id: `chatcmpl-${j.id ?? 'translated'}`,
    object: 'chat.completion',
    created: nowSec,
    model: j.model,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finishReason(j.stop_reason) }],
  };
  const usage = usageOf(j.usage);
  if (usage) out.usage = usage;
  return out;
}

/** Anthropic stream events → chat.completion.chunk events. */
class ChatChunksFromMessages implements StreamTranslator {
  #id = 'chatcmpl-translated';
  #model = '';
  #usage: Obj = {};
  #toolIndex = new Map<number, number>();
  #tools = 0;

  constructor(private readonly wantsUsage: boolean, private readonly created: number) {}

  #chunk(delta: Obj, finish: string | null = null): string {
    return sse({ id: this.#id, object: 'chat.completion.chunk', created: this.created, model: this.#model, choices: [{ index: 0, delta, logprobs: null, finish_reason: finish }] });
  }

  push(raw: string): string {
    const { event, data } = parseEvent(raw);
    if (!data) return '';
    let j: Obj;
    try {
      j = JSON.parse(data);
    } catch {
      return '';
    }
    switch (event || j.type) {
      case 'message_start': {
        const m = j.message ?? {};
        if (m.id) this.#id = `chatcmpl-${m.id}`;
        if (typeof m.model === 'string') this.#model = m.model;
        this.#usage = { ...m.usage };
        return this.#chunk({ role: 'assistant', content: '' });
      }
      case 'content_block_start': {
        const blk = j.content_block ?? {};
        if (blk.type === 'tool_use') {
          const i = this.#tools++;
          this.#toolIndex.set(j.index, i);
          return this.#chunk({ tool_calls: [{ index: i, id: blk.id, type: 'function', function: { name: blk.name, arguments: '' } }] });
        }
        if (blk.type === 'text' && blk.text) return this.#chunk({ content: blk.text });
        return '';
      }
      case 'content_block_delta': {
        const d = j.delta ?? {};
        if (d.type === 'text_delta' && d.text) return this.#chunk({ content: d.text });
        if (d.type === 'input_json_delta' && d.partial_json) {
          const i = this.#toolIndex.get(j.index) ?? 0;
          return this.#chunk({ tool_calls: [{ index: i, function: { arguments: d.partial_json } }] });
        }
        return '';
      }
      case 'message_delta': {
        const u = j.usage ?? {};
        for (const k of ['output_tokens', 'input_tokens', 'cache_read_input_tokens', 'cache_creation_input_tokens']) {
          if (typeof u[k] === 'number') this.#usage[k] = u[k];
        }
        return this.#chunk({}, finishReason(j.delta?.stop_reason));
      }
      case 'message_stop': {
        let out = '';
        const usage = usageOf(this.#usage);
        if (this.wantsUsage && usage) out += sse({ id: this.#id, object: 'chat.completion.chunk', created: this.created, model: this.#model, choices: [], usage });
        return out + sse('[DONE]');
      }
      case 'error': {
        const e = j.error ?? {};
        return sse({ error: { type: e.type ?? 'api_error', code: e.type ?? 'api_error', message: e.message ?? 'upstream stream error' } });
      }
      default:
        return ''; // ping, content_block_stop, thinking
    }
  }
}

export const chatOverMessages: Translation = {
  upstreamEndpoint: 'messages',
  request,
  answer,
  stream: (call, nowSec) => new ChatChunksFromMessages(call.wantsStreamUsage, nowSec),
  error: (body) => {
    const e = errorParts(body);
    return { error: { type: e.type, code: e.type, message: e.message } };
  },
};
