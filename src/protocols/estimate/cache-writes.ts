// Prompt-cache writes cost more than plain input: Anthropic bills a 5-minute
// write at 1.25× and a 1-hour write at 2× the input price. A request that
// marks blocks with `cache_control` can have its whole prompt billed as
// writes, so its reservation prices the prompt at the write rate (the upper
// bound: which prefix is already cached is the provider's to know).
//
// The markers are read from the parsed body, where the provider reads them
// (a byte search could be dodged with a JSON escape), at the places the
// Messages API takes them — the request itself, system blocks, tools,
// messages and their content blocks — which also covers OpenAI-shaped bodies
// whose content parts carry them for Claude behind a compatible gateway.

export type CacheWriteTtl = '5m' | '1h';

/** The longest cache write the body asks for, or undefined when it marks nothing. */
export function cacheWriteTtl(body: Record<string, unknown>): CacheWriteTtl | undefined {
  let ttl: CacheWriteTtl | undefined;
  const mark = (v: unknown): boolean => {
    if (!v || typeof v !== 'object') return false;
    const cc = (v as { cache_control?: unknown }).cache_control;
    if (!cc || typeof cc !== 'object') return false;
    ttl = (cc as { ttl?: unknown }).ttl === '1h' ? '1h' : (ttl ?? '5m');
    return ttl === '1h';
  };
  const each = (list: unknown): boolean => Array.isArray(list) && list.some((x) => mark(x));
  if (mark(body) || each(body.system) || each(body.tools)) return ttl;
  if (Array.isArray(body.messages)) {
    for (const m of body.messages) {
      if (mark(m) || each((m as { content?: unknown } | null)?.content)) return ttl;
    }
  }
  return ttl;
}
