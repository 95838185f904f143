import type { EndpointId } from './call.js';
import { anthropicUsage, openaiChatUsage, openaiResponsesUsage, type ReportedUsage } from './usage-from-body.js';
import { parseEvent } from './sse.js';

// Watches a streamed answer event by event: collects usage and the answering
// model, keeps the generated text (in memory only) so an interrupted stream
// can still be counted, and says which event ends the answer — the relay
// holds that one back until the usage row is committed.

export interface EventVerdict { forward: boolean; terminal: boolean }

const FORWARD: EventVerdict = { forward: true, terminal: false };
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

  constructor(readonly endpoint: EndpointId, private readonly clientWantsUsage: boolean, maxTextChars = 4 * 1024 * 1024) {
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

  #addText(s: unknown) {
    if (typeof s !== 'string') return;
    if (this.text.length < this.#maxText) this.text += s;
    else this.textComplete = false;
  }

  #chat(j: Record<string, any>): EventVerdict {
    if (typeof j.model === 'string') this.model = j.model;
    const choices = j.choices;
    if (Array.isArray(choices)) {
      for (const c of choices) {
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
    if (type === 'response.created' && typeof j.response?.model === 'string') this.model = j.response.model;
    return FORWARD;
  }

  #messages(type: string, j: Record<string, any>): EventVerdict {
    switch (type) {
      case 'message_start': {
        const m = j.message;
        if (typeof m?.model === 'string') this.model = m.model;
        this.usage = anthropicUsage(m?.usage) ?? this.usage;
        return FORWARD;
      }
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
}
