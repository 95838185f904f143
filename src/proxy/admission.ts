import type { CallAmounts } from '../budget/budget-ref.js';
import { decide, releaseHolds, type Decision } from '../budget/decide.js';
import { reserveSession, type SessionCall, type SessionHold, type SessionVerdict } from '../budget/session-budgets.js';
import type { ResolvedScope } from '../policy/scope-policy.js';
import { admitRates, releaseRates, type RateShort, type VelocityVerdict } from '../policy/velocity.js';
import type { ShardContext } from './shard-context.js';

// The admission sequence shared by proxied calls and monitoring mode:
// velocity windows, then every budget in scope, then the call's session
// budgets (all or nothing: a session refusal returns the others' holds), and in cluster mode one
// request for a larger lease when this node's share of a budget or of a
// velocity window is short (the only waits on Redis). One module, so a monitored app meets the very same refusals as a
// proxied one.

export type SessionRefusal = Exclude<SessionVerdict, { ok: true }>;

export type Admission =
  | { ok: true; decision: Extract<Decision, { allow: true }>; velocity: Extract<VelocityVerdict, { ok: true }>; session: SessionHold | undefined }
  | { ok: false; why: 'session_budget_exceeded'; session: Extract<SessionRefusal, { why: 'session_budget_exceeded' }> }
  | { ok: false; why: 'session_limit_exceeded'; session: Extract<SessionRefusal, { why: 'session_limit_exceeded' }> }
  | { ok: false; why: 'rate_limited'; velocity: Extract<VelocityVerdict, { ok: false; ref: unknown }> }
  | { ok: false; why: 'rate_limit_unavailable' }
  | { ok: false; why: 'budget_exceeded'; decision: Extract<Decision, { allow: false }> }
  | { ok: false; why: 'budget_unavailable' };

const NO_RATES: VelocityVerdict = { ok: true, holds: [] };

type Attempt = { velocity: VelocityVerdict; decision?: Decision; session?: SessionVerdict };

const NO_SESSION: SessionVerdict = { ok: true, hold: undefined };

function once(ctx: ShardContext, scope: ResolvedScope, estimate: CallAmounts, now: number, session: SessionCall | undefined, unleased = false): Attempt {
  const velocity = scope.rates.length ? admitRates(ctx.policyTables.windows, scope.rates, estimate, now, unleased) : NO_RATES;
  const decision = velocity.ok ? decide(ctx.table, scope.refs, estimate, ctx.shard, now, ctx.clock) : undefined;
  const sessionVerdict = decision?.allow && session && scope.sessions.length
    ? reserveSession(ctx.sessions, scope.sessions, session, estimate, now, ctx.sessionTiming, ctx.shard)
    : NO_SESSION;
  if (decision?.allow && !sessionVerdict.ok) releaseHolds(ctx.table, decision.holds, ctx.shard);
  if (velocity.ok && decision && (!decision.allow || !sessionVerdict.ok)) releaseRates(ctx.policyTables.windows, velocity.holds, now);
  return { velocity, decision, session: sessionVerdict };
}

/**
 * Synchronous unless a cluster lease falls short (the only wait): callers await only a Promise.
 * `session`: the call's session (session-budgets.ts sessionCall), when it names one.
 */
export function admit(ctx: ShardContext, scope: ResolvedScope, estimate: CallAmounts, now: number, session?: SessionCall): Admission | Promise<Admission> {
  const d0 = performance.now();
  const r = once(ctx, scope, estimate, now, session);
  ctx.metrics.recordDecision(performance.now() - d0);
  if (shortOf(r) && ctx.onRateShortfall) return afterRateShortfall(ctx, scope, estimate, now, r, ctx.onRateShortfall, session);
  if (r.decision && !r.decision.allow && ctx.onBudgetShortfall) return afterShortfall(ctx, scope, estimate, now, r, ctx.onBudgetShortfall, session);
  return verdict(r);
}

const shortOf = (r: Attempt): RateShort | undefined => (!r.velocity.ok && 'short' in r.velocity ? r.velocity.short : undefined);

/**
 * Cluster mode: this node's grant of a velocity window was short. Ask Redis
 * for more and decide again; a call with several windows may meet each
 * short in turn (bounded: each window is asked at most once or twice).
 */
async function afterRateShortfall(ctx: ShardContext, scope: ResolvedScope, estimate: CallAmounts, now: number, first: Attempt, ask: NonNullable<ShardContext['onRateShortfall']>, session: SessionCall | undefined): Promise<Admission> {
  let r = first;
  for (let round = 0; round < 2 * scope.rates.length; round++) {
    const short = shortOf(r);
    if (!short) break;
    const v = await ask(short);
    if (v.v === 'exhausted') return { ok: false, why: 'rate_limited', velocity: { ok: false, ref: short.ref, retryAfterMs: v.retryAfterMs } };
    if (v.v === 'unavailable' && !v.open) return { ok: false, why: 'rate_limit_unavailable' };
    r = once(ctx, scope, estimate, now, session, v.v === 'unavailable');
  }
  if (r.decision && !r.decision.allow && ctx.onBudgetShortfall) return afterShortfall(ctx, scope, estimate, now, r, ctx.onBudgetShortfall, session);
  return verdict(r);
}

/** Cluster mode: this node's lease was short. Ask once for more and decide again. */
async function afterShortfall(ctx: ShardContext, scope: ResolvedScope, estimate: CallAmounts, now: number, first: Attempt, shortfall: NonNullable<ShardContext['onBudgetShortfall']>, session: SessionCall | undefined): Promise<Admission> {
  const more = await shortfall(scope.refs, estimate);
  if (more === 'unavailable') return { ok: false, why: 'budget_unavailable' };
  return verdict(more === 'retry' ? once(ctx, scope, estimate, now, session) : first);
}

function verdict(r: Attempt): Admission {
  // Still short after asking (other shards took the grant meanwhile): a 1 s retry, as for a full window.
  if (!r.velocity.ok) return { ok: false, why: 'rate_limited', velocity: 'short' in r.velocity ? { ok: false, ref: r.velocity.short.ref, retryAfterMs: 1000 } : r.velocity };
  if (!r.decision!.allow) return { ok: false, why: 'budget_exceeded', decision: r.decision as Extract<Decision, { allow: false }> };
  const s = r.session ?? NO_SESSION;
  if (!s.ok) return s.why === 'session_budget_exceeded' ? { ok: false, why: s.why, session: s } : { ok: false, why: s.why, session: s };
  return { ok: true, decision: r.decision as Extract<Decision, { allow: true }>, velocity: r.velocity, session: s.hold };
}
