import { counterToUnit } from '../budget/budget-ref.js';
import type { Caller } from '../identity/key-directory.js';
import type { SessionRefusal } from './admission.js';
import type { RefusalScope } from './refusal.js';

// What a session refusal says: the 402 scope names the session
// (`period: "session"`, `resets_at`: when the session ends if no call comes
// before), and the message says it in words. A full session table is the
// proxy's own limit: 503, naming limits.sessions.

export function sessionRefusalScope(caller: Caller, r: Extract<SessionRefusal, { why: 'session_budget_exceeded' }>): RefusalScope {
  return {
    customer: caller.customer,
    agent: caller.agent,
    session: r.session,
    source: r.ref.source,
    unit: r.ref.unit,
    period: 'session',
    limit: r.ref.limit,
    used: round(counterToUnit(r.ref, r.used)),
    remaining: round(counterToUnit(r.ref, r.remaining)),
    resets_at: new Date(r.expiresAt).toISOString(),
  };
}

export function sessionRefusalMessage(s: RefusalScope, ttlMs: number): string {
  return `budget exceeded: session "${s.session}" of customer "${s.customer}" has used ${s.used} of its ${s.source} session budget of ${s.limit} ${s.unit} `
    + `(${s.remaining} remaining, not enough for this call); the session ends after ${idle(ttlMs)} without calls (at ${s.resets_at} if none come), and a new session starts with a fresh budget`;
}

export function sessionLimitMessage(capacity: number): string {
  return `too many live sessions: the session table (limits.sessions = ${capacity}) has no free entry for this session; `
    + 'new sessions are refused until idle ones end (sessionTtl) or the limit is raised; nothing was forwarded or charged';
}

const round = (n: number) => Math.round(n * 1e9) / 1e9;

function idle(ms: number): string {
  if (ms % 86_400_000 === 0) return `${ms / 86_400_000}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  return `${ms / 1000}s`;
}
