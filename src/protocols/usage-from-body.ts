import type { CallUsage, EndpointId } from './call.js';

// Usage as the provider reported it, checked field by field. A value that is
// missing (where the protocol requires it), negative, not a number (a
// string such as "100" included), fractional or beyond any real call is not
// taken: it reads as 0 and is listed in `problems`, so the caller bills that
// field from its own count instead (never from the provider's claim).

/** No single call uses this many tokens; beyond it a number is garbage (and would overflow the price arithmetic). */
export const MAX_PLAUSIBLE_TOKENS = 100_000_000;

export interface UsageProblem { field: keyof CallUsage; detail: string }

/** Provider usage plus what was wrong with it (empty: valid). */
export type ReportedUsage = CallUsage & { problems: UsageProblem[] };

type Obj = Record<string, unknown> | undefined;

function take(u: Record<string, unknown>, name: string, field: keyof CallUsage, problems: UsageProblem[], required: boolean): number {
  const v = u[name];
  if (v === undefined || v === null) {
    if (required) problems.push({ field, detail: `${name} missing` });
    return 0;
  }
  if (typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= MAX_PLAUSIBLE_TOKENS) return v;
  problems.push({ field, detail: `${name}=${JSON.stringify(v)?.slice(0, 40) ?? String(v)}` });
  return 0;
}

/** Usage reported in an OpenAI-style `usage` object (chat; embeddings report no completion). */
export function openaiChatUsage(u: Obj, requireCompletion = true): ReportedUsage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const problems: UsageProblem[] = [];
  const details = u.prompt_tokens_details as Obj;
  return {
    promptTokens: take(u, 'prompt_tokens', 'promptTokens', problems, true),
    completionTokens: take(u, 'completion_tokens', 'completionTokens', problems, requireCompletion),
    cachedTokens: details && typeof details === 'object' ? take(details, 'cached_tokens', 'cachedTokens', problems, false) : 0,
    cacheWriteTokens: 0,
    cacheWrite1hTokens: 0,
    problems,
  };
}

/** Usage in a Responses API `usage` object. */
export function openaiResponsesUsage(u: Obj): ReportedUsage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const problems: UsageProblem[] = [];
  const details = u.input_tokens_details as Obj;
  return {
    promptTokens: take(u, 'input_tokens', 'promptTokens', problems, true),
    completionTokens: take(u, 'output_tokens', 'completionTokens', problems, true),
    cachedTokens: details && typeof details === 'object' ? take(details, 'cached_tokens', 'cachedTokens', problems, false) : 0,
    cacheWriteTokens: 0,
    cacheWrite1hTokens: 0,
    problems,
  };
}

/**
 * Anthropic `usage`. Its input_tokens exclude cache reads and writes; we add
 * them so promptTokens means the same on every protocol. A stream's
 * message_delta may carry output_tokens alone (`requireInput` false).
 */
export function anthropicUsage(u: Obj, requireInput = true): ReportedUsage | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const problems: UsageProblem[] = [];
  const read = take(u, 'cache_read_input_tokens', 'cachedTokens', problems, false);
  const write = take(u, 'cache_creation_input_tokens', 'cacheWriteTokens', problems, false);
  const breakdown = u.cache_creation as Obj;
  const write1h = Math.min(write, breakdown && typeof breakdown === 'object' ? take(breakdown, 'ephemeral_1h_input_tokens', 'cacheWrite1hTokens', problems, false) : 0);
  return {
    promptTokens: take(u, 'input_tokens', 'promptTokens', problems, requireInput) + read + write,
    completionTokens: take(u, 'output_tokens', 'completionTokens', problems, true),
    cachedTokens: read,
    cacheWriteTokens: write - write1h,
    cacheWrite1hTokens: write1h,
    problems,
  };
}

/** Usage and answering model from a complete (non-streamed) JSON answer. */
export function usageFromBody(endpoint: EndpointId, body: Obj): { usage?: ReportedUsage; model?: string } {
  if (!body || typeof body !== 'object') return {};
  const model = typeof body.model === 'string' ? body.model : undefined;
  const u = body.usage as Obj;
  switch (endpoint) {
    case 'chat':
      return { usage: openaiChatUsage(u), model };
    case 'embeddings':
      return { usage: openaiChatUsage(u, false), model };
    case 'responses':
      return { usage: openaiResponsesUsage(u), model };
    case 'messages':
      return { usage: anthropicUsage(u), model };
    default:
      return {}; // unit-billed endpoints: src/proxy/unit-call.ts reads their answers
  }
}
