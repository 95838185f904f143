import { tokensOfChars } from './prompt-estimate.js';
import { anthropicUsage, chatUsage, responsesUsage, type Used } from './usage.js';

// Follows a provider stream as the caller reads it: the usage the provider
// reported (if it got that far), and how much text was generated, so an
// abandoned or broken stream can still be charged for what it produced.

export interface StreamMeter {
  /** Sees one event; false when the caller must not see it (the usage chunk the wrapper asked for). */
  observe(event: any): boolean;
  /** Usage the provider reported in the stream, if any. */
  reported(): Used | undefined;
  /** Characters of text / tool-call arguments generated so far. */
  generatedChars(): number;
}

/** OpenAI chat: usage comes in a last chunk with no choices, only when stream_options.include_usage. */
export function chatStreamMeter(hideUsageChunk: boolean): StreamMeter {
  let used: Used | undefined;
  let chars = 0;
  return {
    observe(chunk) {
      for (const c of chunk?.choices ?? []) {
        const d = c?.delta;
        if (typeof d?.content === 'string') chars += d.content.length;
        if (typeof d?.refusal === 'string') chars += d.refusal.length;
        for (const t of d?.tool_calls ?? []) if (typeof t?.function?.arguments === 'string') chars += t.function.arguments.length;
      }
      if (chunk?.usage) used = chatUsage(chunk.usage);
      return !(hideUsageChunk && chunk?.usage && Array.isArray(chunk.choices) && chunk.choices.length === 0);
    },
    reported: () => used,
    generatedChars: () => chars,
  };
}

/** OpenAI Responses: the final response.completed / incomplete / failed event carries usage. */
export function responsesStreamMeter(): StreamMeter {
  let used: Used | undefined;
  let chars = 0;
  return {
    observe(ev) {
      const t = ev?.type;
      if ((t === 'response.output_text.delta' || t === 'response.function_call_arguments.delta' || t === 'response.refusal.delta') && typeof ev.delta === 'string') chars += ev.delta.length;
      if (ev?.response?.usage) used = responsesUsage(ev.response.usage);
      return true;
    },
    reported: () => used,
    generatedChars: () => chars,
  };
}

/** Anthropic: message_start has the input tokens, message_delta the (cumulative) output tokens. */
export function anthropicStreamMeter(): StreamMeter {
  let used: Used | undefined;
  let finalOutput = false;
  let chars = 0;
  return {
    observe(ev) {
      if (ev?.type === 'message_start' && ev.message?.usage) used = anthropicUsage(ev.message.usage);
      if (ev?.type === 'message_delta' && ev.usage) {
        const u = ev.usage;
        const base = used ?? { prompt: 0, completion: 0, cached: 0, cacheWrite: 0 };
        // A delta may restate the input side; output_tokens is the running total.
        const restated = u.input_tokens != null ? anthropicUsage(u)! : base;
        used = { ...restated, completion: typeof u.output_tokens === 'number' ? u.output_tokens : base.completion };
        finalOutput = true;
      }
      if (ev?.type === 'content_block_delta') {
        const d = ev.delta;
        if (typeof d?.text === 'string') chars += d.text.length;
        if (typeof d?.partial_json === 'string') chars += d.partial_json.length;
        if (typeof d?.thinking === 'string') chars += d.thinking.length;
      }
      return true;
    },
    // message_start's output_tokens is a placeholder (1): before message_delta only the input side is
    // known, and the output is estimated from the text, as for a stream without usage.
    reported: () => (used && !finalOutput ? { ...used, completion: Math.max(used.completion, tokensOfChars(chars)) } : used),
    generatedChars: () => chars,
  };
}
