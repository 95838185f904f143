import { textChars } from './prompt-estimate.js';
import { anthropicStreamMeter, chatStreamMeter, responsesStreamMeter, type StreamMeter } from './stream-usage.js';
import { anthropicUsage, chatUsage, responsesUsage, type Used } from './usage.js';

// What the wrapper needs to know about each metered model call: the text to
// estimate, the output cap (to reserve for, and to lower when the budget
// clamps it), where the answer reports usage, and how to follow its stream.

type Body = Record<string, any>;

export interface Endpoint {
  provider: 'openai' | 'anthropic';
  promptChars(body: Body): number;
  /** The output cap the request asks for (undefined: Tollgate uses the model's). */
  maxTokens(body: Body): number | undefined;
  /** The body to send: degraded model, clamped cap, usage asked for on streams. */
  prepare(body: Body, model: string, clampTo: number | undefined): { body: Body; meter?: StreamMeter };
  usage(answer: any): Used | undefined;
  /** Characters generated in a complete (non-streamed) answer, if it reports no usage. */
  answerChars(answer: any): number;
}

const num = (v: unknown) => (typeof v === 'number' ? v : undefined);

export const chatCompletions: Endpoint = {
  provider: 'openai',
  promptChars: (b) => textChars(b.messages),
  maxTokens: (b) => num(b.max_completion_tokens) ?? num(b.max_tokens),
  prepare(b, model, clampTo) {
    const body: Body = { ...b, model };
    if (clampTo !== undefined) {
      // Lower every cap the caller set (the provider honours the smaller), or add the current one.
      const caps = ['max_completion_tokens', 'max_tokens'].filter((k) => b[k] !== undefined);
      for (const k of caps.length ? caps : ['max_completion_tokens']) body[k] = clampTo;
    }
    if (!b.stream) return { body };
    const asked = b.stream_options?.include_usage === true;
    if (!asked) body.stream_options = { ...b.stream_options, include_usage: true };
    return { body, meter: chatStreamMeter(!asked) };
  },
  usage: (a) => chatUsage(a?.usage),
  answerChars: (a) => textChars((a?.choices ?? []).map((c: any) => c?.message?.content ?? '')),
};

export const responses: Endpoint = {
  provider: 'openai',
  promptChars: (b) => textChars(b.instructions) + textChars(b.input),
  maxTokens: (b) => num(b.max_output_tokens),
  prepare(b, model, clampTo) {
    const body: Body = { ...b, model, ...(clampTo !== undefined ? { max_output_tokens: clampTo } : {}) };
    return { body, meter: b.stream ? responsesStreamMeter() : undefined };
  },
  usage: (a) => responsesUsage(a?.usage),
  answerChars: (a) => (typeof a?.output_text === 'string' ? a.output_text.length : 0),
};

export const embeddings: Endpoint = {
  provider: 'openai',
  promptChars: (b) => textChars(b.input),
  // Embeddings produce no tokens; 1 is the least authorize accepts.
  maxTokens: () => 1,
  prepare: (b, model) => ({ body: { ...b, model } }),
  usage: (a) => chatUsage(a?.usage),
  answerChars: () => 0,
};

export const anthropicMessages: Endpoint = {
  provider: 'anthropic',
  promptChars: (b) => textChars(b.system) + textChars(b.messages),
  maxTokens: (b) => num(b.max_tokens),
  prepare(b, model, clampTo) {
    const body: Body = { ...b, model, ...(clampTo !== undefined ? { max_tokens: clampTo } : {}) };
    return { body, meter: b.stream ? anthropicStreamMeter() : undefined };
  },
  usage: (a) => anthropicUsage(a?.usage),
  answerChars: (a) => textChars(a?.content),
};
