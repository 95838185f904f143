import { affordableOutputTokens, releaseHolds } from '../budget/decide.js';
import type { BudgetRef, CallAmounts } from '../budget/budget-ref.js';
import type { Reservation } from '../budget/reservations.js';
import { errorBody, errorStatus, type ErrorType } from '../http/errors.js';
import type { Exchange } from '../http/exchange.js';
import { BodyTimeout, BodyTooLarge } from '../http/read-body.js';
import { InvalidUtf8, utf8Text } from '../http/utf8-body.js';
import { callLine } from '../observability/logger.js';
import { streamErrorEvent } from '../protocols/stream-error.js';
import { redactSecrets } from './redact-secrets.js';
import { BadRequest, ENDPOINTS, parseCall, zeroUsage, type CallUsage, type EndpointId, type ParsedCall } from '../protocols/call.js';
import { usageFromBody } from '../protocols/usage-from-body.js';
import { StreamTracker } from '../protocols/stream-tracker.js';
import { SseSplitter } from '../protocols/sse.js';
import type { RoutedPlan, Target } from '../routing/route-table.js';
import type { PriceMatch } from '../pricing/price-table.js';
import type { UsageRecord } from '../store/usage-record.js';
import type { Caller } from '../identity/key-directory.js';
import { promptText } from '../tokenize/token-counter.js';
import { answerText } from './answer-text.js';
import { costOf, picoToNano, priceOf } from './call-pricing.js';
import { AT_COST, billedPico, type ResaleTerms } from '../pricing/resale.js';
import { newRequestId } from './request-id.js';
import { refusalMessage, refusalScope, tightestRemaining } from './refusal.js';
import type { ShardContext } from './shard-context.js';
import { describeError } from './upstream-request.js';
import type { UpstreamExchange } from './upstream-exchange.js';
import { attemptSummary, tryTargets, type Answer, type AttemptControl, type RoutedRow } from './upstream-attempts.js';
import { baseRow } from './usage-row.js';
import { createHash } from 'node:crypto';
import type { ResolvedScope } from '../policy/scope-policy.js';
import { releaseRates, settleRates, type RateHold } from '../policy/velocity.js';
import { admit, type Admission } from './admission.js';
import { degradeTarget } from '../policy/degrade.js';
import { lastUserText, syntheticAnswer } from './synthetic-answer.js';
import { balanceText, friendlyRefusal } from './self-answers.js';
import { customerView } from '../admin/customer-view.js';


// One proxied model call, in the order of DESIGN.md's diagram:
// identify → parse → decide (reserve) → route and forward (with fallback)
// → relay the answer → settle and commit the usage row → finish the answer.

export interface CallHeaders {
  authorization: string;
  apiKey: string;
  customer: string;
  agent: string;
  tags: string;
  idempotencyKey: string;
  anthropicVersion: string;
  anthropicBeta: string;
  accept: string;
}

export async function handleModelCall(ctx: ShardContext, ex: Exchange, endpoint: EndpointId, h: CallHeaders, body: Promise<Buffer>): Promise<void> {
  body.catch(() => {}); // an early refusal never reads the body
  ctx.inFlight++;
  const call = new ModelCall(ctx, ex, endpoint, h);
  try {
    await call.run(body);
  } catch (err) {
    ctx.log('error', 'call failed', { request_id: call.requestId, error: describeError(err) });
    if (!ex.started) call.refuse('internal_error', 'internal error in the proxy; the call was not charged');
    else ex.close();
  } finally {
    ctx.inFlight--;
    ctx.callFinished();
    call.logLine();
  }
}

class ModelCall {
  readonly requestId: string;
  readonly ts = Date.now();
  readonly t0 = performance.now();
  readonly protocol;
  caller: Caller | undefined;
  rateHolds: RateHold[] = [];
  resale: ResaleTerms = AT_COST;
  degradedFrom: string | null = null;
  /** What the client got, for the call's log line. */
  status: number | undefined;
  decision = 'none';
  row: UsageRecord | undefined;

  constructor(private ctx: ShardContext, private ex: Exchange, private endpoint: EndpointId, private h: CallHeaders) {
    this.requestId = newRequestId(this.ts);
    this.protocol = ENDPOINTS[endpoint].protocol;
  }

  refuse(type: ErrorType, message: string, extra?: Record<string, unknown>, headers: Record<string, string> = {}): void {
    const status = errorStatus(type);
    this.#count(status, 'refused');
    this.ex.json(status, errorBody(this.protocol, type, message, extra), { 'x-tollgate-request-id': this.requestId, ...headers });
  }

  #count(status: number, decision: string): void {
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

  async run(bodyPromise: Promise<Buffer>): Promise<void> {
    const { ctx, ex, h } = this;
    const who = ctx.keys.identify(h);
    if (!who.ok) return this.refuse(who.type as ErrorType, who.message);
    const caller = (this.caller = who.caller);

    let raw: Buffer;
    try {
      raw = await bodyPromise;
    } catch (err) {
      if (err instanceof BodyTooLarge || err instanceof BodyTimeout) {
        // The rest of the body is not read: the connection cannot carry another request.
        ex.closeConnection = true;
        return this.refuse(err instanceof BodyTooLarge ? 'request_too_large' : 'request_timeout', err.message);
      }
      throw err;
    }
    if (ex.aborted) return;

    let call: ParsedCall;
    try {
      let json: unknown;
      try {
        json = JSON.parse(utf8Text(raw));
      } catch (err) {
        if (err instanceof InvalidUtf8) throw new BadRequest(err.message);
        throw new BadRequest(`request body is not valid JSON: ${(err as Error).message}`);
      }
      call = parseCall(this.endpoint, json);
    } catch (err) {
      if (err instanceof BadRequest) return this.refuse('invalid_request_error', err.message);
      throw err;
    }

    const idemKey = h.idempotencyKey || null;
    if (idemKey) {
      if (idemKey.length > 255) return this.refuse('invalid_request_error', 'idempotency-key is longer than 255 characters');
      const prior = ctx.ledger.findIdempotent(caller.customer, idemKey, this.ts, ctx.config.idempotencyWindow);
      if (prior) {
        return this.refuse('idempotency_key_reused', `idempotency-key "${idemKey}" was already used by request ${prior.request_id}, which was charged; the call was not forwarded again`, { original_request_id: prior.request_id });
      }
      if (!ctx.claimIdempotencyKey(caller.customer, idemKey)) {
        return this.refuse('idempotency_key_reused', `a call with idempotency-key "${idemKey}" is still in flight; retry after it finishes`);
      }
    }
    try {
      await this.#decideAndForward(call, caller, idemKey, raw);
    } finally {
      if (idemKey) ctx.releaseIdempotencyKey(caller.customer, idemKey);
    }
  }

  async #decideAndForward(call: ParsedCall, caller: Caller, idemKey: string | null, raw: Buffer): Promise<void> {
    const { ctx } = this;
    let scope: ResolvedScope;
    try {
      const r = ctx.scopes.get(caller.customer, caller.agent);
      scope = r instanceof Promise ? await r : r;
    } catch (err) {
      return this.refuse('overloaded_error', (err as Error).message);
    }
    const refs = scope.refs;

    // Answered by the proxy itself: no upstream call, no charge.
    if (ctx.config.balanceCommand && lastUserText(this.endpoint, call.body) === ctx.config.balanceCommand) {
      return this.#answerSelf(call, balanceText(caller, customerView(caller.customer, caller.agent, refs, ctx.table, ctx.clock, this.ts).budgets));
    }

    if (scope.loop) {
      const fingerprint = createHash('sha256').update(caller.customer).update('\u0000').update(caller.agent ?? '').update('\u0000').update(raw).digest();
      const seen = ctx.policyTables.loops.hit(fingerprint, scope.loop.windowMs, this.ts);
      if (seen > scope.loop.maxRepeats) {
        const row = this.#row(call, idemKey);
        row.decision = 'blocked';
        row.reason = 'loop_detected';
        row.status = 429;
        await ctx.ledger.append(row);
        // Alert once per window, not on every repeat.
        if (seen === scope.loop.maxRepeats + 1) ctx.emit({ t: 'policy-event', kind: 'loop_detected', customer: caller.customer, agent: caller.agent, detail: `the same request was sent ${seen} times within ${scope.loop.windowMs / 1000} s` });
        const retry = String(Math.ceil(scope.loop.windowMs / 1000));
        return this.refuse('rate_limit_exceeded', `loop detected: this exact request was sent more than ${scope.loop.maxRepeats} times within ${scope.loop.windowMs / 1000} s from the same scope; refused to stop a runaway loop`, { code: 'loop_detected' }, { 'retry-after': retry });
      }
    }

    let model = call.model;
    let degradedFrom: string | null = null;
    const degrade = refs.length ? degradeTarget(ctx.table, refs) : undefined;
    if (degrade && degrade.model !== call.model) {
      degradedFrom = call.model;
      model = degrade.model;
    }
    const plan = ctx.routes.plan(model, this.endpoint, this.ts);
    if (!plan.ok) return this.refuse(plan.status === 404 ? 'model_not_found' : 'invalid_request_error', plan.message);
    if (!plan.targets.length) return this.#noTarget(call, plan, idemKey);
    const first = plan.targets[0]!;
    const price = priceOf(ctx.prices, first.model, first.provider.type, ctx.unknownPrice);
    if (!price && ctx.config.unknownModel === 'refuse') {
      return this.refuse('model_not_priced', `model "${first.model}" has no price in Tollgate's table, so its cost cannot be enforced; add it to pricing/overrides.json or set unknownModel: allow`);
    }

    // The enforcement decision: in memory; only a short cluster lease waits.
    const promptTokens = call.promptTokensFor(first.model);
    let maxOut = call.maxOutputTokens ?? price?.entry.max_output_tokens ?? ctx.config.defaultMaxOutputTokens;
    let clamped: number | undefined;
    if (refs.length && scope.clampMaxTokens) {
      const promptCost = costOf(price, { ...zeroUsage(), promptTokens }).pico;
      const afford = Math.floor(affordableOutputTokens(ctx.table, refs, { billedPico: promptCost, tokens: promptTokens }, price?.entry.output ?? 0, this.ts, ctx.clock) / call.choices);
      if (afford < maxOut) maxOut = clamped = Math.max(1, afford);
    }
    this.resale = scope.resale;
    const estimateUsage: CallUsage = { promptTokens, completionTokens: maxOut * call.choices, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0 };
    const estimate: CallAmounts = {
      billedPico: billedPico(scope.resale, [call.model, first.model], costOf(price, estimateUsage).pico, estimateUsage),
      tokens: promptTokens + maxOut * call.choices,
      requests: 1,
    };
    const admitted = admit(ctx, scope, estimate, this.ts);
    const admission = admitted instanceof Promise ? await admitted : admitted;
    if (this.ex.aborted) {
      if (admission.ok) {
        releaseRates(ctx.policyTables.windows, admission.velocity.holds, this.ts);
        releaseHolds(ctx.table, admission.decision.holds, ctx.shard);
      }
      return;
    }
    if (!admission.ok) return this.#refuseAdmission(call, caller, idemKey, scope, admission);
    this.rateHolds = admission.velocity.holds;
    this.degradedFrom = degradedFrom;
    const reservation = ctx.book.open(this.requestId, admission.decision.holds, this.ts);
    try {
      await this.#forward(call, plan, reservation, refs, clamped, idemKey);
    } finally {
      // Whatever path ended the call, its hold does not outlive it.
      if (ctx.book.release(reservation) && this.rateHolds.length) releaseRates(ctx.policyTables.windows, this.rateHolds, Date.now());
    }
  }

  /** Records the blocked call and answers the refusal the admission chose. */
  async #refuseAdmission(call: ParsedCall, caller: Caller, idemKey: string | null, scope: ResolvedScope, a: Exclude<Admission, { ok: true }>): Promise<void> {
    const { ctx } = this;
    const row = this.#row(call, idemKey);
    row.decision = 'blocked';
    row.reason = a.why;
    if (a.why === 'budget_unavailable') {
      row.status = 503;
      await ctx.ledger.append(row);
      return this.refuse('budget_unavailable', "shared budget state is unreachable (Redis is down) and this node's share of the budget is used up; the call was not forwarded or charged, retry shortly", {}, { 'retry-after': '1' });
    }
    if (a.why === 'rate_limited') {
      const v = a.velocity;
      row.status = 429;
      await ctx.ledger.append(row);
      const who = v.ref.scope.agent ? `agent "${v.ref.scope.agent}" of customer "${v.ref.scope.customer}"` : `customer "${v.ref.scope.customer}"`;
      const retry = Math.max(1, Math.ceil(v.retryAfterMs / 1000));
      return this.refuse('rate_limit_exceeded', `velocity cap reached: ${who} is limited to ${v.ref.label}; retry in ${retry} s`, {
        limit: { metric: v.ref.metric, window_seconds: v.ref.windowMs / 1000, limit: v.ref.metric === 'usd' ? v.ref.limit / 1e9 : v.ref.limit, source: v.ref.scope.source },
      }, { 'retry-after': String(retry) });
    }
    const rs = refusalScope(a.decision.ref, ctx.table, ctx.clock, this.ts);
    row.status = scope.refusal.mode === 'message' ? 200 : 402;
    await ctx.ledger.append(row);
    ctx.emit({ t: 'policy-event', kind: 'budget_refused', slot: a.decision.ref.slot, customer: caller.customer, agent: caller.agent, detail: refusalMessage(rs) });
    if (scope.refusal.mode === 'message') return this.#answerSelf(call, friendlyRefusal(rs, caller.customer, scope.refusal.topUpUrl));
    return this.refuse('budget_exceeded', refusalMessage(rs), { scope: rs });
  }

  /** Writes a proxy-made assistant answer in the caller's protocol; nothing is charged. */
  #answerSelf(call: ParsedCall, text: string): void {
    const a = syntheticAnswer(this.endpoint, call.model, text, call.stream, this.requestId, this.ts);
    this.#count(200, 'self');
    this.ex.send(200, { 'content-type': a.contentType, 'x-tollgate-request-id': this.requestId, 'x-tollgate-cost': '0' }, a.body);
  }

  async #forward(call: ParsedCall, plan: RoutedPlan, reservation: Reservation, refs: BudgetRef[], clamped: number | undefined, idemKey: string | null): Promise<void> {
    const { ctx, ex } = this;
    // The attempt in progress; client disconnect, timeout and shutdown abort it.
    const current: { up?: UpstreamExchange; reason?: Error } = {};
    const cancel = (reason: string) => {
      current.reason = Object.assign(new Error(reason), { code: 'TG_CANCELLED' });
      current.up?.abort(current.reason);
    };
    ex.onAbort(() => cancel('client disconnected'));
    // Each attempt moves the deadline to its own target's total timeout.
    ctx.inFlightCalls.set(cancel, Date.now() + plan.targets[0]!.timeouts.total);
    try {
      await this.#attempt(call, plan, reservation, refs, clamped, idemKey, { current, clientGone: () => ex.aborted, setDeadline: (at) => ctx.inFlightCalls.set(cancel, at) });
    } finally {
      ctx.inFlightCalls.delete(cancel);
    }
  }

  /** Every target of the route is cooling down: 503 with retry-after, recorded, nothing charged. */
  async #noTarget(call: ParsedCall, plan: RoutedPlan, idemKey: string | null): Promise<void> {
    const now = Date.now();
    const soonest = Math.min(...plan.skipped.map((s) => s.until));
    const retry = Math.max(1, Math.ceil((soonest - now) / 1000));
    const row: RoutedRow = this.#row(call, idemKey);
    row.attempts = plan.skipped.map((s) => ({ target: s.target.id, error: `skipped: cooling down until ${new Date(s.until).toISOString()}` }));
    row.status = 503;
    row.reason = `no_target_available: ${attemptSummary(row.attempts)}`.slice(0, 500);
    await this.ctx.ledger.append(row);
    return this.refuse('overloaded_error', `every target of "${plan.logical}" is cooling down after repeated failures; retry in ${retry} s`, undefined, { 'retry-after': String(retry) });
  }

  async #attempt(call: ParsedCall, plan: RoutedPlan, reservation: Reservation, refs: BudgetRef[], clamped: number | undefined, idemKey: string | null, control: AttemptControl): Promise<void> {
    const { ctx, ex, h } = this;
    const a0 = performance.now();
    const result = await tryTargets(ctx, call, plan, h, clamped, control);
    const row: RoutedRow = this.#row(call, idemKey);
    if (result.attempts.length) row.attempts = result.attempts;
    for (const a of result.attempts) ctx.metrics.recordUpstreamError(a.target, a.error);
    if (result.kind === 'answer') ctx.metrics.recordUpstream(result.answer.target.id, performance.now() - a0);
    if (result.kind === 'aborted') return this.#finishAborted(row, 'client_disconnected');
    if (result.kind === 'none') {
      row.status = errorStatus(result.type);
      row.reason = `upstream_failed: ${attemptSummary(result.attempts)}`.slice(0, 500);
      await ctx.ledger.append(row);
      return this.refuse(result.type, result.message, undefined, result.retryAfterSec ? { 'retry-after': String(result.retryAfterSec) } : {});
    }
    const answer = result.answer;
    const { target, head, translation, upstreamEndpoint } = answer;
    row.provider = target.provider.name;
    row.model = target.model;
    if (result.attempts.length) row.reason = [row.reason, `fallback: ${attemptSummary(result.attempts)}`].filter(Boolean).join('; ').slice(0, 500);
    const contentType = String(head.headers['content-type'] ?? '');

    if (head.status < 200 || head.status >= 300) {
      // A non-retryable upstream error goes back unchanged (in the client's protocol); nothing is charged.
      let bytes: Buffer | string = answer.body?.length ? answer.body : JSON.stringify(errorBody(this.protocol, 'upstream_error', `upstream answered ${head.status}`));
      if (translation && answer.body?.length) bytes = JSON.stringify(translation.error(answer.body.toString('utf8')));
      bytes = redactSecrets(bytes, [target.provider.apiKey]);
      row.status = head.status;
      row.reason = [row.reason, `upstream_status_${head.status}`].filter(Boolean).join('; ').slice(0, 500);
      await ctx.ledger.append(row);
      // The provider refused Tollgate's own key: the operator must know (the client's key was fine).
      if (head.status === 401 || head.status === 403) ctx.log('error', 'provider refused its credentials', { request_id: this.requestId, provider: target.provider.name, status: head.status });
      this.#count(head.status, 'upstream_error');
      const headers: Record<string, string> = { 'content-type': translation ? 'application/json' : contentType || 'application/json', 'x-tollgate-request-id': this.requestId };
      const ra = head.headers['retry-after'];
      if (typeof ra === 'string') headers['retry-after'] = ra;
      ex.send(head.status, headers, bytes);
      return;
    }

    if (answer.first !== undefined) return this.#relayStream(call, answer, reservation, row);

    let bytes: Buffer | string = answer.body!;
    let json: any;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      json = undefined;
    }
    const reported = usageFromBody(upstreamEndpoint, json);
    let usage = reported.usage;
    row.usage_source = 'provider';
    if (!usage) {
      usage = await this.#countUsage(call, target.model, answerText(upstreamEndpoint, json));
      row.usage_source = 'tokenizer';
    }
    if (translation && json) bytes = JSON.stringify(translation.answer(json, Math.floor(Date.now() / 1000)));
    const cost = this.#settle(row, reservation, target, reported.model, usage);
    row.status = head.status;
    await ctx.ledger.append(row);
    this.#count(head.status, 'allowed');
    const remaining = tightestRemaining(refs, ctx.table);
    ex.send(head.status, {
      'content-type': contentType || 'application/json',
      'x-tollgate-request-id': this.requestId,
      'x-tollgate-cost': (cost / 1e9).toFixed(9).replace(/\.?0+$/, '') || '0',
      'x-tollgate-budget-remaining': remaining ? `${remaining.value} ${remaining.unit}` : 'unlimited',
    }, bytes);
  }

  async #relayStream(call: ParsedCall, answer: Answer, reservation: Reservation, row: UsageRecord): Promise<void> {
    const { ctx, ex } = this;
    const { target, up } = answer;
    // The tracker reads the upstream's protocol (usage, model, terminal event); a translator rewrites each event for the client.
    const translator = answer.translation?.stream(call, Math.floor(Date.now() / 1000));
    const tracker = new StreamTracker(answer.upstreamEndpoint, translator ? true : call.wantsStreamUsage);
    const splitter = new SseSplitter();
    ex.begin(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-tollgate-request-id': this.requestId,
    });
    // The event that ends the answer (and anything after it) waits until the usage row is committed.
    let held = '';
    let terminated = false;
    let cutReason: string | null = null;
    let cutDetail = '';
    try {
      // The first chunk was read by the attempt loop (a stream is accepted only once it has started).
      for (let chunk = answer.first ?? null; chunk; chunk = await up.next()) {
        let out = '';
        for (const raw of splitter.push(chunk)) {
          const v = tracker.inspect(raw);
          if (v.terminal) terminated = true;
          const ev = translator ? translator.push(raw) : v.forward ? raw : '';
          if (!ev) continue;
          if (held || v.terminal) held += ev;
          else out += ev;
        }
        if (out) {
          const wait = ex.write(out);
          if (wait) await wait;
        }
        if (ex.aborted) break;
      }
    } catch (err) {
      if (!ex.aborted) {
        cutReason = `upstream_stream_cut: ${describeError(err)}`;
        cutDetail = (err as Error)?.message || describeError(err);
      }
    }
    // Whatever ended the relay early, the upstream request must end too (else it holds its pool connection forever).
    if (ex.aborted || cutReason) up.abort(new Error(ex.aborted ? 'client disconnected' : 'stream abandoned'));
    if (!terminated && !cutReason && !ex.aborted) cutReason = 'upstream_stream_ended_without_terminal_event';
    if (cutReason) {
      ctx.routes.health.failedLate(target, Date.now(), cutReason);
      ctx.metrics.recordUpstreamError(target.id, 'stream_cut');
      // A failed stream (cut, timed out, oversized event): tell the client in its SDK's error shape, after the usage row is committed.
      if (cutDetail) held += streamErrorEvent(call.endpoint, `the upstream stream failed part-way (${cutDetail}); what was generated is charged`);
    }

    let usage = tracker.usage;
    row.usage_source = 'provider';
    if (!usage || !terminated) {
      // Interrupted (or silent) stream: count what was generated ourselves.
      const counted = await this.#countUsage(call, target.model, tracker.text);
      usage = usage
        ? { ...usage, promptTokens: usage.promptTokens || counted.promptTokens, completionTokens: Math.max(usage.completionTokens, counted.completionTokens) }
        : counted;
      row.usage_source = 'tokenizer';
    }
    this.#settle(row, reservation, target, tracker.model, usage);
    if (ex.aborted) {
      row.status = 499;
      row.reason = 'client_disconnected';
    } else {
      row.status = 200;
      if (cutReason) row.reason = [row.reason, cutReason].filter(Boolean).join('; ').slice(0, 500);
    }
    await ctx.ledger.append(row);
    this.#count(row.status, 'allowed');
    ex.end(held);
  }

  /** Prices the call on the model that answered, settles the reservation, fills the row. Returns cost in nano-USD. */
  #settle(row: UsageRecord, reservation: Reservation, target: Target, answeredModel: string | undefined, usage: CallUsage): number {
    const { ctx } = this;
    let match: PriceMatch | undefined = answeredModel ? priceOf(ctx.prices, answeredModel, target.provider.type) : undefined;
    match ??= priceOf(ctx.prices, target.model, target.provider.type, ctx.unknownPrice);
    const cost = costOf(match, usage);
    const billed = billedPico(this.resale, [row.model_requested, answeredModel, target.model], cost.pico, usage);
    const actual = { billedPico: billed, tokens: usage.promptTokens + usage.completionTokens, requests: 1 };
    if (ctx.book.settle(reservation, actual) && this.rateHolds.length) settleRates(ctx.policyTables.windows, this.rateHolds, actual, Date.now());
    row.model = answeredModel ?? target.model;
    row.prompt_tokens = usage.promptTokens;
    row.completion_tokens = usage.completionTokens;
    row.cached_tokens = usage.cachedTokens;
    row.cache_write_tokens = usage.cacheWriteTokens + usage.cacheWrite1hTokens;
    row.cost_nano = picoToNano(cost.pico);
    row.billed_nano = picoToNano(billed);
    row.price_source = cost.source;
    row.latency_ms = Math.round(performance.now() - this.t0);
    ctx.metrics.recordSpend(row.customer, row.cost_nano, usage.promptTokens, usage.completionTokens);
    if (!match || match.id === 'unknown') {
      // Served under the unknownModel rule (zero or the default price): never silently.
      ctx.metrics.unpricedCalls++;
      ctx.log('warn', 'model has no price in the table; charged by the unknownModel rule', { request_id: this.requestId, model: row.model, rule: ctx.config.unknownModel });
    } else if (row.cost_nano === 0 && usage.promptTokens + usage.completionTokens > 0) {
      ctx.metrics.zeroCostCalls++;
      ctx.log('warn', 'call with tokens priced at zero', { request_id: this.requestId, model: row.model, price_source: cost.source });
    }
    return row.cost_nano;
  }

  async #countUsage(call: ParsedCall, model: string, generated: string): Promise<CallUsage> {
    const [prompt, completion] = await this.ctx.tokens.count(model, [promptText(call.body), generated]);
    return { ...zeroUsage(), promptTokens: prompt!, completionTokens: completion! };
  }

  async #finishAborted(row: UsageRecord, reason: string): Promise<void> {
    row.status = 499;
    row.reason = reason;
    row.latency_ms = Math.round(performance.now() - this.t0);
    await this.ctx.ledger.append(row);
  }

  #row(call: ParsedCall, idemKey: string | null): UsageRecord {
    const row = baseRow(this.requestId, this.ts, this.caller!, ENDPOINTS[this.endpoint].path, call.model, idemKey);
    if (this.degradedFrom) row.reason = `degraded from ${this.degradedFrom}`;
    row.latency_ms = Math.round(performance.now() - this.t0);
    this.row = row;
    return row;
  }
}
