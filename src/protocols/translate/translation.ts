import type { EndpointId, ParsedCall } from '../call.js';

// A client speaking one protocol served by an upstream speaking the other:
// the request is rewritten before it goes up, the answer (whole, streamed,
// or an error) before it comes back, so each SDK sees only its own
// protocol. Usage and the answering model are read from the upstream's own
// answer (the ledger never depends on the translation).

export type TranslatedRequest = { ok: true; body: string } | { ok: false; problem: string };

export interface RequestOptions {
  /** Model id at the target. */
  model: string;
  /** Output cap to send (the client's, the budget clamp, or a default: Anthropic requires one). */
  maxTokens: number;
}

export interface StreamTranslator {
  /** One upstream SSE event (text up to its blank line) → zero or more client events. */
  push(rawEvent: string): string;
}

export interface Translation {
  readonly upstreamEndpoint: EndpointId;
  request(call: ParsedCall, opts: RequestOptions): TranslatedRequest;
  /** A complete upstream JSON answer in the client's protocol. `nowSec` fills `created` fields. */
  answer(upstream: Record<string, any>, nowSec: number): unknown;
  stream(call: ParsedCall, nowSec: number): StreamTranslator;
  /** An upstream error body in the client's protocol (the status stays). */
  error(upstreamBody: string): unknown;
}

/** Formats one SSE event. */
export function sse(data: unknown, event?: string): string {
  return `${event ? `event: ${event}\n` : ''}data: ${typeof data === 'string' ? data : JSON.stringify(data)}\n\n`;
}

/** An error body's type and message, whichever protocol wrote it. */
export function errorParts(body: string): { type: string; message: string } {
  try {
    const j = JSON.parse(body);
    const e = j?.error;
    if (e && typeof e === 'object') {
      return { type: typeof e.type === 'string' ? e.type : 'api_error', message: typeof e.message === 'string' ? e.message : JSON.stringify(e) };
    }
  } catch {
    /* not JSON: pass the text on */
  }
  return { type: 'api_error', message: body.slice(0, 2000) || 'upstream error' };
}

/** JSON.parse of tool-call arguments; a model that wrote broken JSON still gets its text through. */
export function parseArguments(s: unknown): Record<string, unknown> {
  if (typeof s !== 'string' || !s.trim()) return {};
  try {
    const v = JSON.parse(s);
    return v && typeof v === 'object' && !Array.isArray(v) ? v : { value: v };
  } catch {
    return { _raw: s };
  }
}
