// How many prompt tokens to reserve before the call: about four characters
// a token over the request's text (messages, system, instructions, input).
// Only the reservation uses it — the charge is the provider's reported
// usage — so a cheap, dependency-free count is enough; roles, tool schemas
// and images are not counted, and Tollgate's max_tokens share of the hold
// dominates an estimate for most calls anyway.

export function textChars(v: unknown): number {
  if (typeof v === 'string') return v.length;
  if (typeof v === 'number') return 4;
  if (Array.isArray(v)) return v.reduce((n: number, x) => n + textChars(x), 0);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return (typeof o.text === 'string' ? o.text.length : 0) + textChars(o.content) + (typeof o.output === 'string' ? o.output.length : 0);
  }
  return 0;
}

export const tokensOfChars = (chars: number): number => Math.ceil(chars / 4);
