import { LedgerUnavailableError } from '../store/ledger.js';
import { modelBarred } from '../control/key-models.js';
import { streamErrorEvent } from '../protocols/stream-error.js';
import { releaseHolds } from '../budget/decide.js';
import { releaseSessionHold, sessionCall } from '../budget/session-budgets.js';
import type { BudgetRef } from '../budget/budget-ref.js';
import type { Reservation } from '../budget/reservations.js';
import { errorStatus, type ErrorType } from '../http/errors.js';
import type { Exchange } from '../http/exchange.js';
import { callLine } from '../observability/logger.js';
import { ENDPOINTS, type EndpointId, type ParsedCall } from '../protocols/call.js';
import type { RoutedPlan, Target } from '../routing/route-table.js';
import { SHADOW_REASON, type UsageRecord } from '../store/usage-record.js';
import type { Caller } from '../identity/key-directory.js';
import type { ReportedUsage } from '../protocols/usage-from-body.js';
import type { Relayed } from './billed-usage.js';
import { priceOf } from './call-pricing.js';
import type { PriceMatch } from '../pricing/price-table.js';
import { AT_COST, type ResaleTerms } from '../pricing/resale.js';
import { newRequestId } from './request-id.js';
import type { Cancellable, ShardContext } from './shard-context.js';
import { describeError } from './upstream-request.js';
import { attemptSummary, tryTargets, type Answer, type AttemptControl, type AttemptsResult, type RoutedRow, type UpstreamCall } from './upstream-attempts.js';
import { upstreamDeps } from './upstream-dispatch.js';
import { baseRow } from './usage-row.js';
import { loopCheck, type LoopRefusal } from './loop-check.js';
import type { ResolvedScope } from '../policy/scope-policy.js';
import { releaseRates, type RateHold } from '../policy/velocity.js';
import { admit, type Admission } from './admission.js';
import { degradeTarget } from '../policy/degrade.js';
import { lastUserText, mayHoldCommand, syntheticAnswer } from './synthetic-answer.js';
import { balanceText, friendlyRefusal } from './self-answers.js';
import { customerView } from '../admin/customer-view.js';
import { bodyRefusal, claimClusterIdempotency, claimIdempotency, readCall, type IntakeRefusal } from './call-intake.js';
import { reservationEstimate, type GrowableHold, type ReservationEstimate } from './call-estimate.js';
import type { CallAmounts } from '../budget/budget-ref.js';
import { admissionRefusal } from './admission-refusal.js';
import type { CallRun } from './call-run.js';
import { relayError, relayJson } from './json-relay.js';
import { relayStream } from './stream-relay.js';
import { billCall, billUnanswered } from './settle.js';
import { relayUnitAnswer, settleUnits, unitQuote, unitReservation, type UnitQuote } from './unit-call.js';

// One proxied model call, as it runs: intake (key, body, parse, idempotency
// claim: call-intake.ts) → self-answers and the loop guard (loop-check.ts)
// → degrade and route → the reservation estimate (call-estimate.ts) and the
// admission decision (admission.ts; refusals: admission-refusal.ts) → the
// fallback loop (upstream-attempts.ts) → relay the answer (json-relay.ts,
// stream-relay.ts), bill and settle (settle.ts) and commit the row before
// the end of the answer reaches the client. Whatever path ends the call,
// its hold is released and its idempotency claim dropped; a request that
// reached the provider is billed even when the client has gone.

export interface CallHeaders {
  authorization: string;
  apiKey: string;
  customer: string;
  agent: string;
  session: string;
  tags: string;
  idempotencyKey: string;
  anthropicVersion: string;
  anthropicBeta: string;
  accept: string;
  /** multipart/form-data with its boundary, for audio uploads. */
  contentType: string;
}

const ignore = (): void => {};

/** Starts one proxied model call; its promise never rejects (ModelCall.run answers every fault). */
export function handleModelCall(ctx: ShardContext, ex: Exchange, endpoint: EndpointId, h: CallHeaders, body: Promise<Buffer>): Promise<void> {
  ctx.inFlight++;
  return new ModelCall(ctx, ex, endpoint, h).run(body);
}

/** Most input one model call reads when the price table does not know the model's context window. */
export const UNKNOWN_CONTEXT_WINDOW = 1_000_000;

/**
 * A call whose prompt the provider completes from what it stores or fetches
 * (estimate/stored-context.ts) is reserved for the model's whole context
 * window: the body bounds none of that input.
 */
function withStoredContext(call: ParsedCall, price: PriceMatch | undefined): ParsedCall {
  if (!call.storedContext) return call;
  const window = price?.entry.max_input_tokens ?? UNKNOWN_CONTEXT_WINDOW;
  // `body` by name: a natively scanned call keeps it on its prototype (read-request.ts), which a spread skips.
  return { ...call, body: call.body, promptTokensFor: (m) => Math.max(call.promptTokensFor(m), window) };
}

/**
 * The planned target whose reservation is the largest. A call may be served by any target
 * of its plan (fallback after a failure, or a first target of the other protocol that cannot
 * take the request: the client can steer that), so it is reserved, and clamped, at the
 * dearest. Undefined for a plan of one target.
 */
function dearestTarget(ctx: ShardContext, scope: ResolvedScope, call: ParsedCall, targets: readonly Target[], now: number, customer: string): { target: Target; price: PriceMatch | undefined } | undefined {
  if (targets.length < 2) return undefined;
  const unclamped = { ...scope, clampMaxTokens: false };
  let best: { target: Target; price: PriceMatch | undefined; pico: number; tokens: number } | undefined;
  for (const t of targets) {
    const price = priceOf(ctx.prices, t.model, t.provider.type, ctx.unknownPrice, t.priceAs, now);
    const { estimate } = reservationEstimate(ctx, unclamped, withStoredContext(call, price), t.model, price, now, customer);
    if (!best || estimate.billedPico > best.pico || (estimate.billedPico === best.pico && estimate.tokens > best.tokens)) {
      best = { target: t, price, pico: estimate.billedPico, tokens: estimate.tokens };
    }
  }
  return best;
}

/** A routed call: its plan, what to reserve, and the model it was degraded from. */
interface Routed { plan: RoutedPlan; estimate: CallAmounts; degradedFrom: string | null }

/** The client left while the call was being admitted: whatever was reserved goes back. */
function dropAdmission(ctx: ShardContext, admission: Admission, now: number): void {
  if (!admission.ok) return;
  releaseRates(ctx.policyTables.windows, admission.velocity.holds, now);
  releaseHolds(ctx.table, admission.decision.holds, ctx.shard);
  if (admission.session) releaseSessionHold(admission.session, Date.now());
}

class ModelCall implements CallRun, AttemptControl, Cancellable {
  readonly requestId: string;
  readonly ts = Date.now();
  readonly t0 = performance.now();
  readonly protocol;
  caller: Caller | undefined;
  rateHolds: RateHold[] = [];
  resale: ResaleTerms = AT_COST;
  degradedFrom: string | null = null;
  /** A shadow budget would have refused this call (it was served): flagged on its row. */
  shadowExceeded = false;
  reservation: Reservation | undefined;
  /** The output cap the budget lowered the call to, if it did. */
  clamped: number | undefined;
  /** Output tokens held (all choices), and how a stream may grow that hold (when it is less than the upstream may produce). */
  outputHold = 0;
  growableHold: GrowableHold | undefined;
  /** Attempts that reached a provider and failed unanswered before the one that ended the call: billed with it. */
  failedAttempts: Target[] = [];
  /** What the client got, for the call's log line. */
  status: number | undefined;
  decision = 'none';
  row: UsageRecord | undefined;
  /** What a unit-billed call (images, speech, audio) reserved on its first target. */
  unit: Extract<UnitQuote, { ok: true }> | undefined;
  /** The upstream attempt in flight, and why the call was cancelled (if it was). */
  up: UpstreamCall | undefined;
  cancelled: Error | undefined;
  /** Its deadline and links in ctx.inFlightCalls (Cancellable), declared so every call has one shape. */
  dueAt = 0;
  prev: Cancellable | undefined = undefined;
  next: Cancellable | undefined = undefined;
  listed = false;

  constructor(readonly ctx: ShardContext, readonly ex: Exchange, private endpoint: EndpointId, readonly h: CallHeaders) {
    this.requestId = newRequestId(this.ts);
    this.protocol = ENDPOINTS[endpoint].protocol;
  }

  refuse(type: ErrorType, message: string, extra?: Record<string, unknown>, headers: Record<string, string> = {}): void {
    const status = errorStatus(type);
    this.count(status, 'refused');
    this.ex.fail(this.protocol, type, message, extra, { 'x-tollgate-request-id': this.requestId, ...headers });
  }

  #refuseIntake(r: IntakeRefusal): void {
    if (r.closeConnection) this.ex.closeConnection = true;
    this.refuse(r.type, r.message, r.extra, r.headers);
  }

  count(status: number, decision: string): void {
    this.status = status;
    this.decision = decision;
    this.ctx.metrics.count(this.endpoint, status, decision);
  }

  /** The one log line of this call: ids, outcome and timing only, never payloads or keys. */
  logLine(): void {
    const logger = this.ctx.logger;
    if (!logger.isLevelEnabled('info')) return;
    const row = this.row;
    logger.info(callLine({
      request_id: this.requestId,
      endpoint: ENDPOINTS[this.endpoint].path,
      customer: this.caller?.customer ?? null,
      agent: this.caller?.agent ?? null,
      model: row?.model ?? null,
      provider: row?.provider ?? null,
      status: this.status ?? row?.status ?? (this.ex.aborted ? 499 : 0),
      decision: row?.decision === 'blocked' ? 'blocked' : this.decision === 'none' && row ? row.decision : this.decision,
      latency_ms: Math.round(performance.now() - this.t0),
      reason: row?.reason ?? null,
    }), 'call');
  }

  /**
   * The whole call, in one async function: every await in it is a wait the
   * call cannot skip (its body, the upstream's answer, the relay's commit) or
   * a value that is only sometimes a promise (a scope's first resolution, a
   * loop check, a cluster lease). The steps between are synchronous methods,
   * and the relay is returned, not awaited, by #relay: an async function per
   * step (six were nested) cost a promise, a suspended frame and an await's
   * closures each, ~3 KB of garbage per call (bench/alloc-sample.mjs).
   */
  async run(bodyPromise: Promise<Buffer>): Promise<void> {
    const { ctx, ex, h } = this;
    try {
      const who = ctx.keys.identify(h);
      if (!who.ok) {
        bodyPromise.catch(ignore); // refused before the body is read: its failure (too large, too slow) goes nowhere
        return this.refuse(who.type, who.message);
      }
      const caller = (this.caller = who.caller);

      let raw: Buffer;
      try {
        raw = await bodyPromise;
      } catch (err) {
        const refused = bodyRefusal(err);
        if (!refused) throw err;
        return this.#refuseIntake(refused);
      }
      if (ex.aborted) return;
      const read = readCall(this.endpoint, raw, h.contentType);
      if (!read.ok) return this.#refuseIntake(read.refusal);
      const call = read.call;
      const barred = modelBarred(caller, call.model);
      if (barred) return this.refuse('model_not_allowed', barred);

      const idemKey = h.idempotencyKey || null;
      const claim = idemKey ? await this.#claim(caller, idemKey) : 'none';
      if (claim === 'refused') return;
      try {
        const resolving = this.#scope(caller);
        const scope = resolving instanceof Promise ? await resolving : resolving;
        if (!scope) return;

        // Answered by the proxy itself: no upstream call, no charge.
        if (ctx.config.balanceCommand && mayHoldCommand(raw, ctx.config.balanceCommand) && lastUserText(this.endpoint, call.body) === ctx.config.balanceCommand) {
          return this.#answerSelf(call, balanceText(caller, customerView(caller.customer, caller.agent, scope.refs, ctx.table, ctx.clock, this.ts).budgets));
        }
        const looped = scope.loop && loopCheck(ctx, scope.loop, caller, raw, this.ts);
        const loop = looped instanceof Promise ? await looped : looped;
        if (loop) return await this.#refuseLoop(call, idemKey, loop);

        const routed = this.#route(call, scope, caller, idemKey);
        if (!routed || routed instanceof Promise) return await routed;
        const admitted = admit(ctx, scope, routed.estimate, this.ts, sessionCall(caller.customer, caller.session));
        const admission = admitted instanceof Promise ? await admitted : admitted;
        if (ex.aborted) return dropAdmission(ctx, admission, this.ts);
        if (!admission.ok) return await this.#refuseAdmission(call, caller, idemKey, scope, admission);
        this.rateHolds = admission.velocity.holds;
        this.degradedFrom = routed.degradedFrom;
        if (admission.decision.shadow) {
          this.shadowExceeded = true;
          ctx.metrics.prom.shadowExceeded.inc({ unit: admission.decision.shadow.unit, period: admission.decision.shadow.period });
        }
        const reservation = (this.reservation = ctx.book.open(this.requestId, admission.decision.holds, this.ts, admission.session));
        try {
          // Forward with fallback, then relay whatever answered. Client disconnect, timeout and shutdown cancel the attempt in flight.
          // A client that leaves does not cancel a request already sent: the
          // provider charges for it, so its answer is still read (within the total
          // timeout) and billed. A stream being relayed is read on to its usage too
          // (stream-relay.ts: hidden reasoning is billed only there).
          // Each attempt moves the deadline to its own target's total timeout.
          const plan = routed.plan;
          ctx.inFlightCalls.set(this, Date.now() + plan.targets[0]!.timeouts.total);
          // The relay is awaited inside this try: its deadline must stay registered until the answer ends.
          try {
            const a0 = performance.now();
            const result = await tryTargets(upstreamDeps(ctx), call, plan, this.clamped, this);
            await this.#relay(result, call, scope.refs, idemKey, a0);
          } finally {
            ctx.inFlightCalls.delete(this);
          }
        } finally {
          // Whatever path ended the call, its hold does not outlive it.
          if (ctx.book.release(reservation) && this.rateHolds.length) releaseRates(ctx.policyTables.windows, this.rateHolds, Date.now());
        }
      } finally {
        if (claim !== 'none') await this.#releaseClaim(caller, idemKey!, claim === 'cluster');
      }
    } catch (err) {
      bodyPromise.catch(ignore); // a fault before the body was awaited: its failure must not go unhandled
      if (err instanceof LedgerUnavailableError) {
        // Answered upstream, but its row is still held uncommitted (written once the disk frees): never tell the client it succeeded.
        ctx.log('error', 'usage row not committed in time; the client gets an error', { request_id: this.requestId });
        if (!ex.started) this.refuse('ledger_unavailable', err.message);
        else ex.end(streamErrorEvent(this.endpoint, err.message));
        return;
      }
      ctx.log('error', 'call failed', { request_id: this.requestId, error: describeError(err) });
      if (!ex.started) this.refuse('internal_error', 'internal error in the proxy; the call was not charged');
      else ex.close();
    } finally {
      ctx.inFlight--;
      ctx.callFinished();
      this.logLine();
    }
  }

  /** Claims the call's idempotency key on this node, then in the cluster; 'refused' when either refused it (answered). */
  async #claim(caller: Caller, idemKey: string): Promise<'refused' | 'local' | 'cluster'> {
    const { ctx } = this;
    const refused = await claimIdempotency(ctx, caller.customer, idemKey, this.ts);
    if (refused) {
      this.#refuseIntake(refused);
      return 'refused';
    }
    if (!ctx.clusterIdempotency) return 'local';
    const elsewhere = await claimClusterIdempotency(ctx, caller.customer, idemKey, this.requestId);
    if (elsewhere) {
      ctx.releaseIdempotencyKey(caller.customer, idemKey);
      this.#refuseIntake(elsewhere);
      return 'refused';
    }
    return 'cluster';
  }

  /** The call has ended and its row is committed by now: the ledger says whether it was charged. */
  async #releaseClaim(caller: Caller, idemKey: string, cluster: boolean): Promise<void> {
    const { ctx } = this;
    if (cluster) {
      // A failed lookup counts as charged: a repeat is refused rather than possibly charged twice.
      const charged = await ctx.ledger.findIdempotent(caller.customer, idemKey, Date.now(), ctx.config.idempotencyWindow)
        .then((r) => r?.request_id ?? '', () => this.requestId);
      ctx.clusterIdempotency!.finish(caller.customer, idemKey, this.requestId, charged);
    }
    ctx.releaseIdempotencyKey(caller.customer, idemKey);
  }

  /** The caller's scope (a Map hit after its first call); undefined once refused. */
  #scope(caller: Caller): ResolvedScope | undefined | Promise<ResolvedScope | undefined> {
    try {
      const r = this.ctx.scopes.get(caller.customer, caller.agent, caller.keyScope);
      return r instanceof Promise ? r.catch((err: unknown) => this.#refuseScope(err)) : r;
    } catch (err) {
      return this.#refuseScope(err);
    }
  }

  #refuseScope(err: unknown): undefined {
    if ((err as { code?: string }).code === 'scope_limit_exceeded') this.refuse('scope_limit_exceeded', (err as Error).message);
    else this.refuse('overloaded_error', (err as Error).message);
    return undefined;
  }

  async #refuseLoop(call: ParsedCall, idemKey: string | null, loop: LoopRefusal): Promise<void> {
    const row = this.#row(call, idemKey);
    row.decision = 'blocked';
    row.reason = 'loop_detected';
    row.status = errorStatus('rate_limit_exceeded');
    await this.ctx.ledger.append(row);
    return this.refuse('rate_limit_exceeded', loop.message, { code: 'loop_detected' satisfies ErrorType }, { 'retry-after': loop.retryAfter });
  }

  /**
   * Degrade, route and price the call, and what to reserve for it (set on the
   * call: clamp, output hold, resale). Undefined, or the promise of recording
   * it, when the call was refused here.
   */
  #route(call: ParsedCall, scope: ResolvedScope, caller: Caller, idemKey: string | null): Routed | undefined | Promise<void> {
    const { ctx } = this;
    const refs = scope.refs;
    let model = call.model;
    let degradedFrom: string | null = null;
    const degrade = refs.length ? degradeTarget(ctx.table, refs, ctx.clock, this.ts) : undefined;
    if (degrade && degrade.model !== call.model) {
      degradedFrom = call.model;
      model = degrade.model;
    }
    const plan = ctx.routes.plan(model, this.endpoint, this.ts);
    if (!plan.ok) {
      this.refuse(plan.status === 404 ? 'model_not_found' : 'invalid_request_error', plan.message);
      return undefined;
    }
    if (!plan.targets.length) return this.#noTarget(call, plan, idemKey);
    const first = plan.targets[0]!;
    const price = priceOf(ctx.prices, first.model, first.provider.type, ctx.unknownPrice, first.priceAs, this.ts);
    if (call.media) {
      // Billed per unit: no unknownModel rule applies, as it would let the call through at $0.
      const quote = unitQuote(ctx, first, call.media);
      if (!quote.ok) {
        this.refuse(quote.type, quote.message);
        return undefined;
      }
      this.unit = quote;
    } else if (!price && ctx.config.unknownModel === 'refuse') {
      this.refuse('model_not_priced', `model "${first.model}" has no price in Tollgate's table, so its cost cannot be enforced; add it to pricing/overrides.json or set unknownModel: allow`);
      return undefined;
    }

    // The enforcement decision: in memory; only a short cluster lease waits.
    let reserved: ReservationEstimate;
    if (this.unit) reserved = { estimate: unitReservation(scope.resale, call, this.unit), clamped: undefined, outputHold: 0 };
    else {
      const dear = dearestTarget(ctx, scope, call, plan.targets, this.ts, caller.customer) ?? { target: first, price };
      reserved = reservationEstimate(ctx, scope, withStoredContext(call, dear.price), dear.target.model, dear.price, this.ts, caller.customer);
    }
    this.clamped = reserved.clamped;
    this.outputHold = reserved.outputHold;
    this.growableHold = reserved.growable;
    this.resale = scope.resale;
    return { plan, estimate: reserved.estimate, degradedFrom };
  }

  /** Records the blocked call and answers the refusal the admission chose. */
  async #refuseAdmission(call: ParsedCall, caller: Caller, idemKey: string | null, scope: ResolvedScope, a: Exclude<Admission, { ok: true }>): Promise<void> {
    const r = admissionRefusal(this.ctx, caller, a, this.ts, { promptTokens: call.promptTokensEstimate, outputTokens: this.outputHold, forecast: call.maxOutputTokens === undefined && this.clamped === undefined });
    // Only chat-shaped endpoints can carry a refusal written as an answer.
    const friendly = r.scope && scope.refusal.mode === 'message' && !call.media;
    const row = this.#row(call, idemKey);
    row.decision = 'blocked';
    row.reason = r.reason;
    row.status = friendly ? 200 : errorStatus(r.type);
    await this.ctx.ledger.append(row);
    if (friendly) return this.#answerSelf(call, friendlyRefusal(r.scope!, caller.customer, r.topUpUrl ?? scope.refusal.topUpUrl));
    return this.refuse(r.type, r.message, r.extra, r.headers);
  }

  /** Writes a proxy-made assistant answer in the caller's protocol; nothing is charged. */
  #answerSelf(call: ParsedCall, text: string): void {
    const a = syntheticAnswer(this.endpoint, call.model, text, call.stream, this.requestId, this.ts);
    this.count(200, 'self');
    this.ex.send(200, { 'content-type': a.contentType, 'x-tollgate-request-id': this.requestId, 'x-tollgate-cost': '0' }, a.body);
  }

  /** Every target of the route is cooling down: 503 with retry-after, recorded, nothing charged. */
  async #noTarget(call: ParsedCall, plan: RoutedPlan, idemKey: string | null): Promise<void> {
    const now = Date.now();
    const soonest = Math.min(...plan.skipped.map((s) => s.until));
    const retry = Math.max(1, Math.ceil((soonest - now) / 1000));
    const row: RoutedRow = this.#row(call, idemKey);
    row.attempts = plan.skipped.map((s) => ({ target: s.target.id, error: `skipped: cooling down until ${new Date(s.until).toISOString()}` }));
    row.status = errorStatus('overloaded_error');
    row.reason = `no_target_available: ${attemptSummary(row.attempts)}`.slice(0, 500);
    await this.ctx.ledger.append(row);
    return this.refuse('overloaded_error', `every target of "${plan.logical}" is cooling down after repeated failures; retry in ${retry} s`, undefined, { 'retry-after': String(retry) });
  }

  /**
   * Relays whatever the fallback loop ended with. The common relays are
   * returned, not awaited (run awaits them): no async frame of its own.
   */
  #relay(result: AttemptsResult, call: ParsedCall, refs: BudgetRef[], idemKey: string | null, a0: number): Promise<void> {
    const { ctx } = this;
    const row: RoutedRow = this.#row(call, idemKey);
    if (result.attempts.length) row.attempts = result.attempts;
    for (const a of result.attempts) ctx.metrics.recordUpstreamError(a.target, a.error);
    if (result.kind === 'answer') ctx.metrics.recordUpstream(result.answer.target.id, performance.now() - a0);
    this.failedAttempts = result.sentFailed;
    if (result.kind !== 'answer') return this.#unanswered(row, call, result);
    const answer = result.answer;
    row.provider = answer.target.provider.name;
    row.model = answer.target.model;
    if (result.attempts.length) row.reason = [row.reason, `fallback: ${attemptSummary(result.attempts)}`].filter(Boolean).join('; ').slice(0, 500);
    if (answer.head.status < 200 || answer.head.status >= 300) return this.#relayError(row, call, answer);
    if (this.unit) return relayUnitAnswer(this, call, this.#unitOn(call, answer.target), answer, row, refs);
    if (answer.first !== undefined) return relayStream(this, call, answer, row);
    return relayJson(this, call, answer, row, refs);
  }

  /** The loop ended without an answer: the client left, or no target answered. */
  async #unanswered(row: RoutedRow, call: ParsedCall, result: Exclude<AttemptsResult, { kind: 'answer' }>): Promise<void> {
    if (result.kind === 'aborted') {
      if (result.unanswered) await this.#billUnanswered(row, call, result.unanswered);
      return await this.#finishAborted(row, result.unanswered ? 'client_disconnected; billed_prompt_unanswered' : 'client_disconnected');
    }
    row.status = errorStatus(result.type);
    // No answer at all: the last attempt that reached a provider is billed as the unanswered call, the others with it.
    const unanswered = result.unanswered ?? this.failedAttempts.pop();
    if (unanswered) await this.#billUnanswered(row, call, unanswered);
    row.reason = withShadow(row, `upstream_failed: ${attemptSummary(result.attempts)}${unanswered ? `; billed_prompt_unanswered${row.reason ? `; ${row.reason}` : ''}` : ''}`).slice(0, 500);
    await this.ctx.ledger.append(row);
    return this.refuse(result.type, result.message, undefined, result.retryAfterSec ? { 'retry-after': String(result.retryAfterSec) } : {});
  }

  /** An error answer is not charged, but an earlier attempt that reached a provider unanswered is. */
  async #relayError(row: RoutedRow, call: ParsedCall, answer: Answer): Promise<void> {
    const unanswered = this.failedAttempts.pop();
    if (unanswered) {
      // Billing sets the row's model to the unanswered target: the row still names the target that answered.
      await this.#billUnanswered(row, call, unanswered);
      row.provider = answer.target.provider.name;
      row.model = answer.target.model;
    }
    return await relayError(this, answer, row);
  }

  // The fallback loop's control (AttemptControl) and shutdown's or the deadline's cancel (Cancellable): methods of the call, not closures made per call.
  clientGone(): boolean {
    return this.ex.aborted;
  }

  setDeadline(at: number): void {
    this.ctx.inFlightCalls.set(this, at);
  }

  /** Cancels the attempt in flight (total timeout, shutdown). */
  cancel(reason: string): void {
    this.cancelled = Object.assign(new Error(reason), { code: 'TG_CANCELLED' });
    this.up?.abort(this.cancelled);
  }

  bill(row: UsageRecord, call: ParsedCall, target: Target, answeredModel: string | undefined, reported: ReportedUsage | undefined, relayed: Relayed, complete: boolean): number | Promise<number> {
    return billCall(this, row, call, target, answeredModel, reported, relayed, complete);
  }

  /** The quote on the target that answered (a fallback may price differently); the first target's when it has none. */
  #unitOn(call: ParsedCall, target: Target): Extract<UnitQuote, { ok: true }> {
    const q = unitQuote(this.ctx, target, call.media!);
    return q.ok ? q : this.unit!;
  }

  /** A request that may have reached the provider but got no answer: billed what it reserved (the provider may charge it all). */
  async #billUnanswered(row: UsageRecord, call: ParsedCall, target: Target): Promise<void> {
    if (!this.unit) return billUnanswered(this, row, call, target);
    settleUnits(this, row, target, this.#unitOn(call, target).bill);
  }

  async #finishAborted(row: UsageRecord, reason: string): Promise<void> {
    row.status = 499;
    row.reason = withShadow(row, reason);
    row.latency_ms = Math.round(performance.now() - this.t0);
    await this.ctx.ledger.append(row);
  }

  #row(call: ParsedCall, idemKey: string | null): UsageRecord {
    const row = baseRow(this.requestId, this.ts, this.caller!, ENDPOINTS[this.endpoint].path, call.model, idemKey);
    if (this.degradedFrom) row.reason = `degraded from ${this.degradedFrom}`;
    if (this.shadowExceeded) {
      row.shadow_exceeded = true;
      row.reason = withShadow(row, row.reason);
    }
    row.latency_ms = Math.round(performance.now() - this.t0);
    this.row = row;
    return row;
  }
}

/** A row a shadow budget flagged keeps its flag first in `reason`, whatever else the call's end adds. */
export function withShadow(row: UsageRecord, reason: string): string;
export function withShadow(row: UsageRecord, reason: string | null): string | null;
export function withShadow(row: UsageRecord, reason: string | null): string | null {
  if (!row.shadow_exceeded) return reason;
  return reason ? `${SHADOW_REASON}; ${reason}` : SHADOW_REASON;
}
