// One call's usage as Tollgate's events endpoint counts it: prompt tokens
// include cached ones (OpenAI's meaning), whatever the provider's shape.

export interface Used {
  prompt: number;
  completion: number;
  cached: number;
  cacheWrite: number;
}

const n = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) && v > 0 ? Math.floor(v) : 0);

/** OpenAI chat / embeddings `usage`. */
export function chatUsage(u: any): Used | undefined {
  if (!u || typeof u !== 'object') return undefined;
  return { prompt: n(u.prompt_tokens), completion: n(u.completion_tokens), cached: n(u.prompt_tokens_details?.cached_tokens), cacheWrite: 0 };
}

/** OpenAI Responses `usage`. */
export function responsesUsage(u: any): Used | undefined {
  if (!u || typeof u !== 'object') return undefined;
  return { prompt: n(u.input_tokens), completion: n(u.output_tokens), cached: n(u.input_tokens_details?.cached_tokens), cacheWrite: 0 };
}

/** Anthropic `usage`: input_tokens excludes cache reads and writes, so they are added back. */
export function anthropicUsage(u: any): Used | undefined {
  if (!u || typeof u !== 'object') return undefined;
  const read = n(u.cache_read_input_tokens);
  const write = n(u.cache_creation_input_tokens);
  return { prompt: n(u.input_tokens) + read + write, completion: n(u.output_tokens), cached: read, cacheWrite: write };
}
