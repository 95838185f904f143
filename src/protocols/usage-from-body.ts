import type { CallUsage, EndpointId } from './call.js';

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v >= 0 ? Math.floor(v) : 0);

type Obj = Record<string, unknown> | undefined;

/** Usage reported in an OpenAI-style `usage` object (chat, embeddings). */
export function openaiChatUsage(u: Obj): CallUsage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const details = u.prompt_tokens_details as Obj;
  return {
    promptTokens: num(u.prompt_tokens),
    completionTokens: num(u.completion_tokens),
    cachedTokens: num(details?.cached_tokens),
    cacheWriteTokens: 0,
    cacheWrite1hTokens: 0,
  };
}

/** Usage in a Responses API `usage` object. */
export function openaiResponsesUsage(u: Obj): CallUsage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const details = u.input_tokens_details as Obj;
  return {
    promptTokens: num(u.input_tokens),
    completionTokens: num(u.output_tokens),
    cachedTokens: num(details?.cached_tokens),
    cacheWriteTokens: 0,
    cacheWrite1hTokens: 0,
  };
}

/**
 * Anthropic `usage`. Its input_tokens exclude cache reads and writes; we add
 * them so promptTokens means the same on every protocol.
 */
export function anthropicUsage(u: Obj): CallUsage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const read = num(u.cache_read_input_tokens);
  const write = num(u.cache_creation_input_tokens);
  const breakdown = u.cache_creation as Obj;
  const write1h = Math.min(write, num(breakdown?.ephemeral_1h_input_tokens));
  return {
    promptTokens: num(u.input_tokens) + read + write,
    completionTokens: num(u.output_tokens),
    cachedTokens: read,
    cacheWriteTokens: write - write1h,
    cacheWrite1hTokens: write1h,
  };
}

/** Usage and answering model from a complete (non-streamed) JSON answer. */
export function usageFromBody(endpoint: EndpointId, body: Obj): { usage?: CallUsage; model?: string } {
  if (!body || typeof body !== 'object') return {};
  const model = typeof body.model === 'string' ? body.model : undefined;
  const u = body.usage as Obj;
  switch (endpoint) {
    case 'chat':
    case 'embeddings':
      return { usage: openaiChatUsage(u), model };
    case 'responses':
      return { usage: openaiResponsesUsage(u), model };
    case 'messages':
      return { usage: anthropicUsage(u), model };
  }
}
