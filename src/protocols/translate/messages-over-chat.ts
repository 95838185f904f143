import type { ParsedCall } from '../call.js';
import { openaiChatUsage } from '../usage-from-body.js';
import { parseEvent } from '../sse.js';
import { errorParts, parseArguments, sse, type RequestOptions, type StreamTranslator, type TranslatedRequest, type Translation } from './translation.js';

// An Anthropic messages client served by an OpenAI chat-completions
// upstream. Request: `system` → a system message, tool_use blocks →
// tool_calls, tool_result blocks → tool messages (placed before the rest of
// that user turn, as OpenAI wants each answer right after its call), tools
// and tool_choice, stop_sequences → stop, images → image_url parts.
// Answer: message text and tool_calls → content blocks, finish_reason →
// stop_reason, usage → Anthropic usage (cached tokens as cache reads,
// input_tokens without them). Streams: chat chunks → the Anthropic event
// sequence; the upstream's input tokens arrive only with the final usage
// chunk, so message_start carries the proxy's prompt estimate (LangChain's
// ChatAnthropic reads input tokens only there) and message_delta the
// upstream's count (the SDKs take it from there).

type Obj = Record<string, any>;

const STOP: Record<string, string> = {
  stop: 'end_turn', length: 'max_tokens', tool_calls: 'tool_use', function_call: 'tool_use', content_filter: 'refusal',
};

const stopReason = (finish: unknown): string => (typeof finish === 'string' && STOP[finish]) || 'end_turn';

/** OpenAI reasoning models refuse max_tokens and want max_completion_tokens. */
const wantsCompletionTokens = (model: string) => /^(o\d|gpt-5)/.test(model);

function request(call: ParsedCall, opts: RequestOptions): TranslatedRequest {
  const b = call.body as Obj;
  const messages: Obj[] = [];
  if (b.system !== undefined) {
    const sys = textOf(b.system);
    if (sys) messages.push({ role: 'system', content: sys });
  }
  for (const m of b.messages as Obj[]) {
    if (!m || typeof m !== 'object') return { ok: false, problem: 'every message must be an object' };
    if (m.role !== 'user' && m.role !== 'assistant') return { ok: false, problem: `message role "${m.role}" is not valid` };
    if (typeof m.content === 'string') {
      messages.push({ role: m.role, content: m.content });
      continue;
    }
    const blocks: Obj[] = Array.isArray(m.content) ? m.content : [];
    if (m.role === 'assistant') {
      let text = '';
      const toolCalls: Obj[] = [];
      for (const blk of blocks) {
        if (blk?.type === 'text') text += blk.text ?? '';
        else if (blk?.type === 'tool_use') toolCalls.push({ id: blk.id, type: 'function', function: { name: blk.name, arguments: JSON.stringify(blk.input ?? {}) } });
        // thinking / redacted_thinking blocks have no chat equivalent and are dropped
      }
      const msg: Obj = { role: 'assistant', content: text || null };
      if (toolCalls.length) msg.tool_calls = toolCalls;
      messages.push(msg);
      continue;
    }
    const parts: Obj[] = [];
    for (const blk of blocks) {
      switch (blk?.type) {
        case 'tool_result':
          messages.push({ role: 'tool', tool_call_id: blk.tool_use_id, content: (blk.is_error ? '[error] ' : '') + textOf(blk.content) });
          break;
        case 'text':
          parts.push({ type: 'text', text: blk.text });
          break;
        case 'image': {
          const s = blk.source ?? {};
          const url = s.type === 'base64' ? `data:${s.media_type};base64,${s.data}` : s.url;
          if (!url) return { ok: false, problem: `image source "${s.type}" has no OpenAI equivalent` };
          parts.push({ type: 'image_url', image_url: { url } });
          break;
        }
        default:
          return { ok: false, problem: `content block "${blk?.type}" has no OpenAI chat equivalent` };
      }
    }
    if (parts.length) {
      const allText = parts.every((p) => p.type === 'text');
      messages.push({ role: 'user', content: allText ? parts.map((p) => p.text).join('') : parts });
    }
  }

  const out: Obj = { model: opts.model, messages };
  out[wantsCompletionTokens(opts.model) ? 'max_completion_tokens' : 'max_tokens'] = opts.maxTokens;
  if (typeof b.temperature === 'number') out.temperature = b.temperature;
  if (typeof b.top_p === 'number') out.top_p = b.top_p;
  if (Array.isArray(b.stop_sequences) && b.stop_sequences.length) out.stop = b.stop_sequences.slice(0, 4);
  if (typeof b.metadata?.user_id === 'string') out.user = b.metadata.user_id;
  if (Array.isArray(b.tools) && b.tools.length) {
    const tools: Obj[] = [];
    for (const t of b.tools as Obj[]) {
      if (t?.type && t.type !== 'custom') return { ok: false, problem: `server tool "${t.type}" has no OpenAI chat equivalent` };
      tools.push({
        type: 'function',
        function: { name: t.name, ...(t.description ? { description: t.description } : {}), parameters: t.input_schema ?? { type: 'object', properties: {} } },
      });
    }
    out.tools = tools;
    const c = b.tool_choice as Obj | undefined;
    if (c?.type === 'any') out.tool_choice = 'required';
    else if (c?.type === 'none') out.tool_choice = 'none';
    else if (c?.type === 'tool') out.tool_choice = { type: 'function', function: { name: c.name } };
    else if (c?.type === 'auto') out.tool_choice = 'auto';
    if (c?.disable_parallel_tool_use === true) out.parallel_tool_calls = false;
  }
  if (call.stream) {
    out.stream = true;
    out.stream_options = { include_usage: true };
  }
  return { ok: true, body: JSON.stringify(out) };
}

/** Text of an Anthropic content field (string, or blocks of which the text ones count). */
function textOf(c: unknown): string {
  if (typeof c === 'string') return c;
  if (Array.isArray(c)) return c.map((p) => (p?.type === 'text' && typeof p.text === 'string' ? p.text : '')).join('');
  return '';
}

function usageOf(u: Obj | undefined): Obj | undefined {
  const n = openaiChatUsage(u);
  if (!n) return undefined;
  return {
    input_tokens: Math.max(0, n.promptTokens - n.cachedTokens),
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: n.cachedTokens,
    output_tokens: n.completionTokens,
  };
}

function answer(j: Obj): unknown {
  const choice = Array.isArray(j.choices) ? j.choices[0] ?? {} : {};
  const msg = choice.message ?? {};
  const content: Obj[] = [];
  const text = typeof msg.content === 'string' ? msg.content : Array.isArray(msg.content) ? msg.content.map((p: Obj) => p?.text ?? '').join('') : '';
  if (text) content.push({ type: 'text', text });
  for (const tc of Array.isArray(msg.tool_calls) ? msg.tool_calls : []) {
    content.push({ type: 'tool_use', id: tc.id, name: tc.function?.name, input: parseArguments(tc.function?.arguments) });
  }
  return {
    id: `msg_${j.id ?? 'translated'}`,
    type: 'message',
    role: 'assistant',
    model: j.model,
    content,
    stop_reason: stopReason(choice.finish_reason),
    stop_sequence: null,
    usage: usageOf(j.usage) ?? { input_tokens: 0, output_tokens: 0 },
  };
}

/** chat.completion.chunk events → Anthropic stream events. */
class MessagesEventsFromChat implements StreamTranslator {
  #started = false;
  #index = -1;
  #open: 'text' | 'tool' | null = null;
  #toolIndex = -1;
  #stop = 'end_turn';
  #usage: Obj | undefined;

  constructor(private readonly promptTokens: number) {}

  #start(j: Obj): string {
    this.#started = true;
    return sse({
      type: 'message_start',
      message: { id: `msg_${j.id ?? 'translated'}`, type: 'message', role: 'assistant', model: j.model, content: [], stop_reason: null, stop_sequence: null, usage: { input_tokens: this.#startInputTokens(j), output_tokens: 0 } },
    }, 'message_start');
  }

  /** The upstream's prompt count when the first chunk already has it, else the estimate. */
  #startInputTokens(j: Obj): number {
    const n = openaiChatUsage(j.usage);
    return n ? Math.max(0, n.promptTokens - n.cachedTokens) : this.promptTokens;
  }

  #close(): string {
    if (!this.#open) return '';
    this.#open = null;
    return sse({ type: 'content_block_stop', index: this.#index }, 'content_block_stop');
  }

  #openBlock(block: Obj, kind: 'text' | 'tool'): string {
    const out = this.#close();
    this.#index++;
    this.#open = kind;
    return out + sse({ type: 'content_block_start', index: this.#index, content_block: block }, 'content_block_start');
  }

  push(raw: string): string {
    const { data } = parseEvent(raw);
    if (!data) return '';
    if (data === '[DONE]') return this.#finish();
    let j: Obj;
    try {
      j = JSON.parse(data);
    } catch {
      return '';
    }
    if (j.error) {
      const e = errorParts(JSON.stringify({ error: j.error }));
      return sse({ type: 'error', error: { type: e.type, message: e.message } }, 'error');
    }
    let out = this.#started ? '' : this.#start(j);
    if (j.usage) this.#usage = j.usage;
    const c = Array.isArray(j.choices) ? j.choices.find((x: Obj) => (x?.index ?? 0) === 0) : undefined;
    if (!c) return out;
    const d = c.delta ?? {};
    if (typeof d.content === 'string' && d.content) {
      if (this.#open !== 'text') out += this.#openBlock({ type: 'text', text: '' }, 'text');
      out += sse({ type: 'content_block_delta', index: this.#index, delta: { type: 'text_delta', text: d.content } }, 'content_block_delta');
    }
    for (const tc of Array.isArray(d.tool_calls) ? d.tool_calls : []) {
      const i = typeof tc.index === 'number' ? tc.index : 0;
      if (this.#open !== 'tool' || i !== this.#toolIndex || tc.id) {
        this.#toolIndex = i;
        out += this.#openBlock({ type: 'tool_use', id: tc.id ?? `toolu_${i}`, name: tc.function?.name ?? '', input: {} }, 'tool');
      }
      const args = tc.function?.arguments;
      if (typeof args === 'string' && args) {
        out += sse({ type: 'content_block_delta', index: this.#index, delta: { type: 'input_json_delta', partial_json: args } }, 'content_block_delta');
      }
    }
    if (c.finish_reason) {
      this.#stop = stopReason(c.finish_reason);
      out += this.#close();
    }
    return out;
  }

  #finish(): string {
    let out = this.#started ? '' : this.#start({});
    out += this.#close();
    const usage = usageOf(this.#usage) ?? { output_tokens: 0 };
    out += sse({ type: 'message_delta', delta: { stop_reason: this.#stop, stop_sequence: null }, usage }, 'message_delta');
    return out + sse({ type: 'message_stop' }, 'message_stop');
  }
}

export const messagesOverChat: Translation = {
  upstreamEndpoint: 'chat',
  request,
  answer,
  stream: (call) => new MessagesEventsFromChat(call.promptTokensEstimate),
  error: (body) => {
    const e = errorParts(body);
    return { type: 'error', error: { type: e.type, message: e.message } };
  },
};
