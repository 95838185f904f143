// Identity headers must be visible ASCII. uWS hands header values to JS one
// byte per character (latin1), so a byte outside 0x21-0x7E in the middle of a
// value is visible here and refused: otherwise `acmé` and `acm\xE9` would be
// names nobody configured, and a key with a stray byte could be compared
// against a cleaned-up copy somewhere downstream.
//
// Limitation of the uWebSockets.js build we run (20.30): its parser trims a
// value's leading and trailing bytes that are <= 0x20 *as signed chars*, so
// bytes 0x80-0xFF at either END of a value are stripped before JS sees them
// (`other\xC3\xA9` arrives as `other`). Nothing in the JS API exposes the raw
// bytes, so that case cannot be refused here; see docs/interface.md
// ("Identity headers") for what apps passing end-user ids must do.

import type { HttpRequest } from 'uWebSockets.js';

export interface IdentityHeaders {
  authorization: string;
  apiKey: string;
  customer: string;
  agent: string;
  tags: string;
  session?: string;
  idempotencyKey?: string;
}

// Header names as bytes: uWS reads a Buffer as it is, a string only after converting it to UTF-8 (an allocation per call).
const NAMES = {
  authorization: Buffer.from('authorization'),
  apiKey: Buffer.from('x-api-key'),
  customer: Buffer.from('x-tollgate-customer'),
  agent: Buffer.from('x-tollgate-agent'),
  tags: Buffer.from('x-tollgate-tags'),
  session: Buffer.from('x-tollgate-session'),
};

/** The caller's identity headers, copied now: uWS invalidates `req` at the handler's first await. */
export function readIdentityHeaders(req: HttpRequest): IdentityHeaders & { session: string } {
  return {
    authorization: req.getHeader(NAMES.authorization),
    apiKey: req.getHeader(NAMES.apiKey),
    customer: req.getHeader(NAMES.customer),
    agent: req.getHeader(NAMES.agent),
    tags: req.getHeader(NAMES.tags),
    session: req.getHeader(NAMES.session),
  };
}

// Two parallel lists, walked by index: no iterator or destructured pair per header on every call.
const TOKEN_FIELDS: readonly (keyof IdentityHeaders)[] = ['apiKey', 'customer', 'agent', 'session', 'idempotencyKey'];
const TOKEN_NAMES: readonly string[] = ['x-api-key', 'x-tollgate-customer', 'x-tollgate-agent', 'x-tollgate-session', 'idempotency-key'];

/** First character of `s` from `from` that is outside [lo, hi], or -1. */
function firstOutside(s: string, lo: number, hi: number, from = 0): number {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < lo || c > hi) return i;
  }
  return -1;
}

function refusal(header: string, s: string, at: number): string {
  const code = s.charCodeAt(at);
  return `${header}: byte 0x${code.toString(16).padStart(2, '0').toUpperCase()} at position ${at} is not allowed; header values here must be visible ASCII (0x21-0x7E)`;
}

/** A message naming the first identity header with a byte outside visible ASCII, or null when all are clean. */
export function badIdentityHeader(h: IdentityHeaders): string | null {
  for (let i = 0; i < TOKEN_FIELDS.length; i++) {
    const v = h[TOKEN_FIELDS[i]!];
    if (!v) continue;
    const at = firstOutside(v, 0x21, 0x7e);
    if (at >= 0) return refusal(TOKEN_NAMES[i]!, v, at);
  }
  if (h.authorization.startsWith('Bearer ')) {
    // `Bearer <token>`: the one space after the scheme is syntax; the token is visible ASCII.
    // (Another scheme is not ours to judge: identify() ignores it and asks for a key.)
    const at = firstOutside(h.authorization, 0x21, 0x7e, 7);
    if (at >= 0) return refusal('authorization', h.authorization, at);
  }
  if (h.tags) {
    // Tags are `k=v, k=v`: spaces are allowed between and inside values, nothing else outside visible ASCII.
    const at = firstOutside(h.tags, 0x20, 0x7e);
    if (at >= 0) return refusal('x-tollgate-tags', h.tags, at);
  }
  return null;
}
