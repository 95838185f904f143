import { affordableOutputTokens } from '../budget/decide.js';
import { modelBarred } from '../control/key-models.js';
import type { CallAmounts } from '../budget/budget-ref.js';
import { errorBody, errorStatus, type ErrorType } from '../http/errors.js';
import type { Caller } from '../identity/key-directory.js';
import { degradeTarget } from '../policy/degrade.js';
import { zeroUsage } from '../protocols/call.js';
import { costOf } from '../proxy/call-pricing.js';
import { admissionRefusal } from '../proxy/admission-refusal.js';
import { newRequestId } from '../proxy/request-id.js';
import type { ShardContext } from '../proxy/shard-context.js';
import { baseRow } from '../proxy/usage-row.js';
import type { MonitorBook } from './monitor-book.js';
import { newReservationId } from './reservation-id.js';
import { reportedPrice } from './reported-price.js';
import type { AuthorizeBody } from './usage-bodies.js';
import type { Answer } from './answer.js';
import { admit } from '../proxy/admission.js';
import { sessionCall } from '../budget/session-budgets.js';
import { billedPico } from '../pricing/resale.js';

// POST /v1/usage/authorize: the enforcement decision of a proxied call —
// degrade, clamp, resale price, velocity caps, then the budget reservation,
// with the same functions ModelCall uses (admission.ts) — for an app that
// calls the model itself. Allowed: the hold goes into this shard's
// monitoring book under an id naming the shard. Refused: a blocked usage
// row and a 402 / 429 (503 when a cluster's shared state is unreachable).

export const AUTHORIZE_PATH = '/v1/usage/authorize';

export async function authorize(ctx: ShardContext, book: MonitorBook, asker: Caller, body: AuthorizeBody, now: number): Promise<Answer> {
  // A body's `session` wins over the header; the hold (and the event that settles it) keeps it.
  const caller: Caller = body.session ? { ...asker, session: body.session } : asker;
  const barred = modelBarred(caller, body.model);
  if (barred) return refuse('model_not_allowed', barred);
  const r = ctx.scopes.get(caller.customer, caller.agent, caller.keyScope);
  const scope = r instanceof Promise ? await r : r;
  const refs = scope.refs;

  let model = body.model;
  let degradedFrom: string | undefined;
  const degrade = refs.length ? degradeTarget(ctx.table, refs, ctx.clock, now) : undefined;
  if (degrade && degrade.model !== model) {
    degradedFrom = model;
    model = degrade.model;
  }
  const price = reportedPrice(ctx, model) ?? ctx.unknownPrice;
  if (!price && ctx.config.unknownModel === 'refuse') {
    return refuse('model_not_priced', `model "${model}" has no price in Tollgate's table, so its cost cannot be enforced; add it to pricing/overrides.json or set unknownModel: allow`);
  }

  const promptTokens = body.estimated_prompt_tokens ?? 0;
  // The output held follows a proxied call's rule (call-estimate.ts): the
  // app's cap when it gives one; with clampMaxTokens that cap (else the
  // model's max) lowered to what the budget affords, returned to the app to
  // send; otherwise a forecast of what the customer's calls to the model use
  // (the events recorded against such holds feed it). The app's call cannot
  // be cut, so like a non-streamed proxied answer it may pass a forecast
  // hold by at most (the model's max − the hold) × the output price.
  const modelMax = price?.entry.max_output_tokens ?? ctx.config.defaultMaxOutputTokens;
  let maxOut = body.max_tokens ?? modelMax;
  let clamped: number | undefined;
  let forecast = false;
  if (refs.length && scope.clampMaxTokens) {
    const promptCost = costOf(price, { ...zeroUsage(), promptTokens }).pico;
    const afford = affordableOutputTokens(ctx.table, refs, { billedPico: promptCost, tokens: promptTokens }, price?.entry.output ?? 0, now, ctx.clock);
    if (afford < maxOut) maxOut = clamped = Math.max(1, afford);
  } else if (body.max_tokens === undefined) {
    maxOut = ctx.forecast.hold(caller.customer, body.model, modelMax);
    forecast = true;
  }
  const estimateUsage = { ...zeroUsage(), promptTokens, completionTokens: maxOut };
  const estimate: CallAmounts = {
    billedPico: billedPico(scope.resale, [body.model, model], costOf(price, estimateUsage).pico, estimateUsage),
    tokens: promptTokens + maxOut,
    requests: 1,
  };
  const verdict = await admit(ctx, scope, estimate, now, sessionCall(caller.customer, caller.session));

  if (!verdict.ok) {
    // The same refusal a proxied call gets (admission-refusal.ts), in the OpenAI shape.
    const refused = admissionRefusal(ctx, caller, verdict, now);
    const requestId = newRequestId(now);
    const row = baseRow(requestId, now, caller, AUTHORIZE_PATH, body.model, null);
    row.decision = 'blocked';
    row.reason = refused.reason;
    row.status = errorStatus(refused.type);
    await ctx.ledger.append(row);
    return refuse(refused.type, refused.message, refused.extra, { 'x-tollgate-request-id': requestId, ...refused.headers });
  }

  const id = newReservationId(ctx.shard, now);
  const shadow = verdict.decision.shadow;
  if (shadow) ctx.metrics.prom.shadowExceeded.inc({ unit: shadow.unit, period: shadow.period });
  const hold = book.open(id, caller, model, verdict.decision.holds, verdict.velocity.holds, now, !!shadow, verdict.session, forecast ? body.model : undefined);
  return {
    status: 200,
    body: {
      allowed: true,
      reservation_id: id,
      expires_at: new Date(hold.expiresAt).toISOString(),
      model,
      ...(degradedFrom ? { degraded_from: degradedFrom } : {}),
      ...(clamped !== undefined ? { max_tokens: clamped } : {}),
    },
  };
}

/** A refusal answer: the status is the registry's for `type`. */
export function refuse(type: ErrorType, message: string, extra: Record<string, unknown> = {}, headers: Record<string, string> = {}): Answer {
  return { status: errorStatus(type), body: errorBody('openai', type, message, extra), headers };
}
