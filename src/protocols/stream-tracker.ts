import type { EndpointId } from './call.js';
import { anthropicUsage, openaiChatUsage, openaiResponsesUsage, type ReportedUsage } from './usage-from-body.js';
import { parseEvent } from './sse.js';

// Watches a streamed answer event by event: collects usage and the answering
// model, keeps the generated text (in memory only) so an interrupted stream
// can still be counted, and says which event ends the answer — the relay
// holds that one back until the usage row is committed.

export interface EventVerdict { forward: boolean; terminal: boolean }

const FORWARD: EventVerdict = { forward: true, terminal: false };
/** Generated text kept by default (chars); past it, textComplete is false. */
export const MAX_TEXT_CHARS = 4 * 1024 * 1024;
const TERMINAL: EventVerdict = { forward: true, terminal: true };
const DROP: EventVerdict = { forward: false, terminal: false };

export class StreamTracker {
  usage: ReportedUsage | undefined;
  model: string | undefined;
  text = '';
  /** False once generated text passed the cap and stopped being kept (counting it then needs another bound). */
  textComplete = true;
  events = 0;
  malformed = 0;
  #maxText: number;
  // What an ending of our own needs to look like the upstream's (lengthEnding).
  #id: string | undefined;
  #created: number | undefined;
  #choices = 1;
  #response: Record<string, unknown> | undefined;
  #output: Record<string, any>[] = [];
  #openBlock: number | undefined;

  constructor(readonly endpoint: EndpointId, private readonly clientWantsUsage: boolean, maxTextChars = MAX_TEXT_CHARS) {
    this.#maxText = maxTextChars;
  }

  inspect(raw: string): EventVerdict {
    this.events++;
    const { event, data } = parseEvent(raw);
    if (!data) return FORWARD; // comments, keep-alives
    if (data === '[DONE]') return TERMINAL;
    let j: Record<string, any>;
    try {
      j = JSON.parse(data);
    } catch {
      this.malformed++;
      return FORWARD;
    }
    switch (this.endpoint) {
      case 'chat':
        return this.#chat(j);
      case 'responses':
        return this.#responses(event || j.type, j);
      case 'messages':
        return this.#messages(event || j.type, j);
      default:
        return FORWARD;
    }
  }

  /**
   * A chat event whose data was read without parsing all of it (stream-watch.ts):
   * `top` holds its top-level "model" and "usage" as JSON.parse gives them.
   * Only for a client that asked for the usage chunk (the drop of that chunk
   * reads "choices"), and only where the id, choices and text are not needed.
   */
  inspectChatTop(top: { model?: unknown; usage?: unknown }): EventVerdict {
    this.events++;
    return this.#chat(top);
  }

  #addText(s: unknown) {
    if (typeof s !== 'string') return;
    if (this.text.length < this.#maxText) this.text += s;
    else this.textComplete = false;
  }

  #chat(j: Record<string, any>): EventVerdict {
    if (typeof j.model === 'string') this.model = j.model;
    if (typeof j.id === 'string') this.#id = j.id;
    if (typeof j.created === 'number') this.#created = j.created;
    const choices = j.choices;
    if (Array.isArray(choices)) {
      for (const c of choices) {
        if (Number.isInteger(c?.index) && c.index >= this.#choices && c.index < 128) this.#choices = c.index + 1;
        const d = c?.delta;
        if (!d) continue;
        this.#addText(d.content);
        if (Array.isArray(d.tool_calls)) for (const t of d.tool_calls) this.#addText(t?.function?.arguments);
      }
    }
    if (j.usage) {
      this.usage = openaiChatUsage(j.usage);
      // We asked for this chunk on the client's behalf; a client that did not ask never sees it.
      if (!this.clientWantsUsage && Array.isArray(choices) && choices.length === 0) return DROP;
    }
    return FORWARD;
  }

  #responses(type: string, j: Record<string, any>): EventVerdict {
    if (type === 'response.output_text.delta' || type === 'response.function_call_arguments.delta') {
      this.#addText(j.delta);
      this.#outputDelta(type, j);
      return FORWARD;
    }
    if (type === 'response.output_item.added' || type === 'response.output_item.done') {
      if (Number.isInteger(j.output_index) && j.output_index >= 0 && j.output_index < 1024 && j.item && typeof j.item === 'object') this.#output[j.output_index] = j.item;
      return FORWARD;
    }
    if (type === 'response.content_part.added') {
      const content = this.#output[j.output_index]?.content;
      if (Array.isArray(content) && Number.isInteger(j.content_index) && j.content_index >= 0 && j.content_index < 1024 && j.part) content[j.content_index] = j.part;
      return FORWARD;
    }
    if (type === 'response.completed' || type === 'response.incomplete' || type === 'response.failed') {
      const r = j.response;
      if (r) {
        if (typeof r.model === 'string') this.model = r.model;
        this.usage = openaiResponsesUsage(r.usage) ?? this.usage;
      }
      return TERMINAL;
    }
    if (type === 'response.created' && j.response && typeof j.response === 'object') {
      this.#response = j.response;
      if (typeof j.response.model === 'string') this.model = j.response.model;
    }
    return FORWARD;
  }

  /** The output so far, kept (within the text cap) so a cut Responses stream can end with it: the SDK's stream helper takes the final event's output. */
  #outputDelta(type: string, j: Record<string, any>): void {
    if (!this.textComplete || typeof j.delta !== 'string') return;
    const item = this.#output[j.output_index];
    if (!item) return;
    if (type === 'response.function_call_arguments.delta') {
      if (typeof item.arguments === 'string') item.arguments += j.delta;
      return;
    }
    const part = Array.isArray(item.content) ? item.content[j.content_index] : undefined;
    if (part && typeof part.text === 'string') part.text += j.delta;
  }

  #messages(type: string, j: Record<string, any>): EventVerdict {
    switch (type) {
      case 'message_start': {
        const m = j.message;
        if (typeof m?.model === 'string') this.model = m.model;
        this.usage = anthropicUsage(m?.usage) ?? this.usage;
        return FORWARD;
      }
      case 'content_block_start':
        if (Number.isInteger(j.index)) this.#openBlock = j.index;
        return FORWARD;
      case 'content_block_stop':
        this.#openBlock = undefined;
        return FORWARD;
      case 'content_block_delta':
        this.#addText(j.delta?.text ?? j.delta?.partial_json ?? j.delta?.thinking);
        return FORWARD;
      case 'message_delta': {
        const u = j.usage;
        if (u) {
          // message_delta carries cumulative output (and, in newer API versions, input) counts.
          const merged = anthropicUsage(u, false);
          if (this.usage && merged) {
            this.usage.completionTokens = merged.completionTokens;
            // The fields taken from this event bring their own problems, replacing message_start's.
            const takesInput = typeof u.input_tokens === 'number';
            const replaced = (f: string) => takesInput || f === 'completionTokens';
            this.usage.problems = [...this.usage.problems.filter((p) => !replaced(p.field)), ...merged.problems.filter((p) => replaced(p.field))];
            if (typeof u.input_tokens === 'number') {
              this.usage.promptTokens = merged.promptTokens;
              this.usage.cachedTokens = merged.cachedTokens;
              this.usage.cacheWriteTokens = merged.cacheWriteTokens;
              this.usage.cacheWrite1hTokens = merged.cacheWrite1hTokens;
            }
          } else if (merged) {
            this.usage = merged;
          }
        }
        return FORWARD;
      }
      case 'message_stop':
        return TERMINAL;
      default:
        return FORWARD;
    }
  }

  /**
   * The events that end this stream the way the upstream ends an answer cut
   * at its output cap (the relay cut it at the budget): OpenAI chat a chunk
   * with finish_reason "length" per choice, the usage chunk when it is
   * wanted, then [DONE]; Responses `response.incomplete` with reason
   * max_output_tokens; Anthropic the open block's stop, `message_delta` with
   * stop_reason "max_tokens", `message_stop`. Each SDK reads it as a normal
   * end. `usage` is what the call was billed.
   */
  lengthEnding(usage: { promptTokens: number; completionTokens: number }): string[] {
    const total = usage.promptTokens + usage.completionTokens;
    switch (this.endpoint) {
      case 'chat': {
        const head = { id: this.#id ?? 'chatcmpl-tollgate', object: 'chat.completion.chunk', created: this.#created ?? Math.floor(Date.now() / 1000), model: this.model ?? '' };
        const choices = Array.from({ length: this.#choices }, (_, index) => ({ index, delta: {}, logprobs: null, finish_reason: 'length' }));
        const out = [data({ ...head, choices })];
        if (this.clientWantsUsage) out.push(data({ ...head, choices: [], usage: { prompt_tokens: usage.promptTokens, completion_tokens: usage.completionTokens, total_tokens: total } }));
        out.push('data: [DONE]\n\n');
        return out;
      }
      case 'responses': {
        const response = {
          ...(this.#response ?? { id: 'resp_tollgate', object: 'response', created_at: Math.floor(Date.now() / 1000), model: this.model ?? '' }),
          status: 'incomplete',
          incomplete_details: { reason: 'max_output_tokens' },
          output: this.#output.filter(Boolean).map((item) => (item.status === 'in_progress' ? { ...item, status: 'incomplete' } : item)),
          usage: { input_tokens: usage.promptTokens, input_tokens_details: { cached_tokens: 0 }, output_tokens: usage.completionTokens, output_tokens_details: { reasoning_tokens: 0 }, total_tokens: total },
        };
        return [data({ type: 'response.incomplete', response }, 'response.incomplete')];
      }
      case 'messages': {
        const out: string[] = [];
        if (this.#openBlock !== undefined) out.push(data({ type: 'content_block_stop', index: this.#openBlock }, 'content_block_stop'));
        out.push(data({ type: 'message_delta', delta: { stop_reason: 'max_tokens', stop_sequence: null }, usage: { output_tokens: usage.completionTokens } }, 'message_delta'));
        out.push(data({ type: 'message_stop' }, 'message_stop'));
        return out;
      }
      default:
        return [];
    }
  }
}

function data(j: unknown, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${JSON.stringify(j)}\n\n`;
}
