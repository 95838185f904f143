import { counterToUnit } from '../budget/budget-ref.js';
import type { ErrorType } from '../http/errors.js';
import type { Caller } from '../identity/key-directory.js';
import type { Admission } from './admission.js';
import { refusalMessage, refusalScope, type RefusalScope } from './refusal.js';
import type { ShardContext } from './shard-context.js';
import { sessionLimitMessage, sessionRefusalMessage, sessionRefusalScope } from './session-refusal.js';

// What an admission refusal answers and records, whoever asked: a proxied
// call and a monitoring-mode authorize meet the same statuses, bodies and
// alerts (one module, so they cannot drift). The caller writes the blocked
// row (`reason`, `rowStatus`) and sends the answer in its own shape.

export interface AdmissionRefusal {
  /** Why, for the row's reason. */
  reason: string;
  /** The status is the registry's for `type` (errors.ts). */
  type: ErrorType;
  message: string;
  extra: Record<string, unknown>;
  headers: Record<string, string>;
  /** The budget that refused (budget_exceeded only), for a friendly refusal. */
  scope?: RefusalScope;
  /** An empty wallet refused: where to buy credit (the wallet's topUpUrl, else the refusal's). */
  topUpUrl?: string;
}

/** What the refused call would have held, so the refusal explains itself. */
export interface HeldEstimate { promptTokens: number; outputTokens: number; forecast: boolean }

export function admissionRefusal(ctx: ShardContext, caller: Caller, a: Exclude<Admission, { ok: true }>, now: number, held?: HeldEstimate): AdmissionRefusal {
  if (a.why === 'budget_unavailable') {
    return {
      reason: a.why, type: 'budget_unavailable', extra: {}, headers: { 'retry-after': '1' },
      message: "shared budget state is unreachable (Redis is down) and this node's share of the budget is used up; nothing was reserved or charged, retry shortly",
    };
  }
  if (a.why === 'rate_limit_unavailable') {
    return {
      reason: a.why, type: 'rate_limit_unavailable', extra: {}, headers: { 'retry-after': '1' },
      message: "the cluster's shared velocity windows are unreachable (Redis is down) and this node's grant of the window is used up; nothing was reserved or charged, retry shortly",
    };
  }
  if (a.why === 'rate_limited') {
    const v = a.velocity;
    const who = v.ref.scope.key ? `key "${v.ref.scope.key}" of customer "${v.ref.scope.customer}"` : v.ref.scope.agent ? `agent "${v.ref.scope.agent}" of customer "${v.ref.scope.customer}"` : `customer "${v.ref.scope.customer}"`;
    const retry = Math.max(1, Math.ceil(v.retryAfterMs / 1000));
    return {
      reason: a.why, type: 'rate_limit_exceeded', headers: { 'retry-after': String(retry) },
      message: `velocity cap reached: ${who} is limited to ${v.ref.label}; retry in ${retry} s`,
      extra: { limit: { metric: v.ref.metric, window_seconds: v.ref.windowMs / 1000, limit: v.ref.metric === 'usd' ? v.ref.limit / 1e9 : v.ref.limit, source: v.ref.scope.source, ...(v.ref.scope.key ? { key_id: v.ref.scope.key } : {}) } },
    };
  }
  if (a.why === 'session_limit_exceeded') {
    return { reason: a.why, type: 'session_limit_exceeded', extra: {}, headers: { 'retry-after': '5' }, message: sessionLimitMessage(a.session.capacity) };
  }
  if (a.why === 'session_budget_exceeded') {
    const rs = sessionRefusalScope(caller, a.session);
    return { reason: a.why, type: 'budget_exceeded', message: sessionRefusalMessage(rs, ctx.sessionTiming.ttlMs), extra: { scope: rs }, headers: {}, scope: rs };
  }
  const rs = refusalScope(a.decision.ref, ctx.table, ctx.clock, now);
  let message = refusalMessage(rs);
  if (held) {
    const ref = a.decision.ref;
    const amount = counterToUnit(ref, a.decision.needed);
    const output = `${held.outputTokens} output tokens${held.forecast ? ' (forecast from recent answers; set max_tokens to hold less)' : ''}`;
    message += `; this call needs an estimated ${held.promptTokens} prompt + ${output} = ${ref.kind === 'money' ? `${+amount.toFixed(9)} ${ref.unit}` : `${amount} ${ref.unit}`} held`;
  }
  ctx.emit({ t: 'policy-event', kind: 'budget_refused', slot: a.decision.ref.slot, customer: caller.customer, agent: caller.agent, detail: message });
  const topUpUrl = a.decision.ref.wallet?.topUpUrl;
  if (topUpUrl) return { reason: a.why, type: 'budget_exceeded', message, extra: { scope: rs, top_up_url: topUpUrl }, headers: {}, scope: rs, topUpUrl };
  return { reason: a.why, type: 'budget_exceeded', message, extra: { scope: rs }, headers: {}, scope: rs };
}
