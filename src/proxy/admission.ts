import type { CallAmounts } from '../budget/budget-ref.js';
import { decide, type Decision } from '../budget/decide.js';
import type { ResolvedScope } from '../policy/scope-policy.js';
import { admitRates, releaseRates, type VelocityVerdict } from '../policy/velocity.js';
import type { ShardContext } from './shard-context.js';

// The admission sequence shared by proxied calls and monitoring mode:
// velocity windows, then every budget in scope, and in cluster mode one
// request for a larger lease when this node's share is short (the only wait
// on Redis). One module, so a monitored app meets the very same refusals as a
// proxied one.

export type Admission =
  | { ok: true; decision: Extract<Decision, { allow: true }>; velocity: Extract<VelocityVerdict, { ok: true }> }
  | { ok: false; why: 'rate_limited'; velocity: Extract<VelocityVerdict, { ok: false }> }
  | { ok: false; why: 'budget_exceeded'; decision: Extract<Decision, { allow: false }> }
  | { ok: false; why: 'budget_unavailable' };

const NO_RATES: VelocityVerdict = { ok: true, holds: [] };

type Attempt = { velocity: VelocityVerdict; decision?: Decision };

function once(ctx: ShardContext, scope: ResolvedScope, estimate: CallAmounts, now: number): Attempt {
  const velocity = scope.rates.length ? admitRates(ctx.policyTables.windows, scope.rates, estimate, now) : NO_RATES;
  const decision = velocity.ok ? decide(ctx.table, scope.refs, estimate, ctx.shard, now, ctx.clock) : undefined;
  if (velocity.ok && decision && !decision.allow) releaseRates(ctx.policyTables.windows, velocity.holds, now);
  return { velocity, decision };
}

/** Synchronous unless a cluster lease falls short (the only wait): callers await only a Promise. */
export function admit(ctx: ShardContext, scope: ResolvedScope, estimate: CallAmounts, now: number): Admission | Promise<Admission> {
  const d0 = performance.now();
  const r = once(ctx, scope, estimate, now);
  ctx.metrics.recordDecision(performance.now() - d0);
  if (r.decision && !r.decision.allow && ctx.onBudgetShortfall) return afterShortfall(ctx, scope, estimate, now, r, ctx.onBudgetShortfall);
  return verdict(r);
}

/** Cluster mode: this node's lease was short. Ask once for more and decide again. */
async function afterShortfall(ctx: ShardContext, scope: ResolvedScope, estimate: CallAmounts, now: number, first: Attempt, shortfall: NonNullable<ShardContext['onBudgetShortfall']>): Promise<Admission> {
  const more = await shortfall(scope.refs, estimate);
  if (more === 'unavailable') return { ok: false, why: 'budget_unavailable' };
  return verdict(more === 'retry' ? once(ctx, scope, estimate, now) : first);
}

function verdict(r: Attempt): Admission {
  if (!r.velocity.ok) return { ok: false, why: 'rate_limited', velocity: r.velocity };
  if (!r.decision!.allow) return { ok: false, why: 'budget_exceeded', decision: r.decision as Extract<Decision, { allow: false }> };
  return { ok: true, decision: r.decision as Extract<Decision, { allow: true }>, velocity: r.velocity };
}
