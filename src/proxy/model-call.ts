import { affordableOutputTokens, decide } from '../budget/decide.js';
import type { BudgetRef, CallAmounts } from '../budget/budget-ref.js';
import type { Reservation } from '../budget/reservations.js';
import { errorBody, errorStatus, type ErrorType } from '../http/errors.js';
import type { Exchange } from '../http/exchange.js';
import { BodyTooLarge } from '../http/read-body.js';
import { BadRequest, ENDPOINTS, parseCall, upstreamBody, zeroUsage, type CallUsage, type EndpointId, type ParsedCall } from '../protocols/call.js';
import { usageFromBody } from '../protocols/usage-from-body.js';
import { StreamTracker } from '../protocols/stream-tracker.js';
import { SseSplitter } from '../protocols/sse.js';
import type { Target } from '../routing/route-table.js';
import type { PriceMatch } from '../pricing/price-table.js';
import type { UsageRecord } from '../store/usage-record.js';
import type { Caller } from '../identity/key-directory.js';
import { promptText } from '../tokenize/token-counter.js';
import { answerText } from './answer-text.js';
import { costOf, picoToNano, priceOf } from './call-pricing.js';
import { newRequestId } from './request-id.js';
import { refusalMessage, refusalScope, tightestRemaining } from './refusal.js';
import type { ShardContext } from './shard-context.js';
import { describeError, isRetryableStatus, upstreamHeaders, upstreamPath } from './upstream-request.js';
import { UpstreamExchange, type UpstreamHead } from './upstream-exchange.js';
import { baseRow } from './usage-row.js';

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

interface Answer { target: Target; up: UpstreamExchange; head: UpstreamHead }

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
  }
}

class ModelCall {
  readonly requestId: string;
  readonly ts = Date.now();
  readonly t0 = performance.now();
  readonly protocol;
  caller: Caller | undefined;

  constructor(private ctx: ShardContext, private ex: Exchange, private endpoint: EndpointId, private h: CallHeaders) {
    this.requestId = newRequestId(this.ts);
    this.protocol = ENDPOINTS[endpoint].protocol;
  }

  refuse(type: ErrorType, message: string, extra?: Record<string, unknown>, headers: Record<string, string> = {}): void {
    const status = errorStatus(type);
    this.ctx.metrics.count(this.endpoint, status, 'refused');
    this.ex.json(status, errorBody(this.protocol, type, message, extra), { 'x-tollgate-request-id': this.requestId, ...headers });
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
      if (err instanceof BodyTooLarge) return this.refuse('request_too_large', err.message);
      throw err;
    }
    if (ex.aborted) return;

    let call: ParsedCall;
    try {
      let json: unknown;
      try {
        json = JSON.parse(raw.toString('utf8'));
      } catch (err) {
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
      await this.#decideAndForward(call, caller, idemKey);
    } finally {
      if (idemKey) ctx.releaseIdempotencyKey(caller.customer, idemKey);
    }
  }

  async #decideAndForward(call: ParsedCall, caller: Caller, idemKey: string | null): Promise<void> {
    const { ctx } = this;
    const plan = ctx.routes.plan(call.model, this.protocol);
    if (!plan.ok) return this.refuse(plan.status === 404 ? 'model_not_found' : 'invalid_request_error', plan.message);
    const first = plan.targets[0]!;
    const price = priceOf(ctx.prices, first.model, first.provider.type);
    if (!price && ctx.config.unknownModel === 'refuse') {
      return this.refuse('model_not_priced', `model "${first.model}" has no price in Tollgate's table, so its cost cannot be enforced; add it to pricing/overrides.json or set unknownModel: allow`);
    }

    let refs: BudgetRef[];
    try {
      const r = ctx.scopes.get(caller.customer, caller.agent);
      refs = r instanceof Promise ? await r : r;
    } catch (err) {
      return this.refuse('overloaded_error', (err as Error).message);
    }

    // The enforcement decision: in memory, no await from here to the verdict.
    const d0 = performance.now();
    const promptTokens = call.promptTokensEstimate;
    let maxOut = call.maxOutputTokens ?? price?.entry.max_output_tokens ?? ctx.config.defaultMaxOutputTokens;
    let clamped: number | undefined;
    if (refs.length && ctx.policy(caller).clampMaxTokens) {
      const promptCost = costOf(price, { ...zeroUsage(), promptTokens }).pico;
      const afford = affordableOutputTokens(ctx.table, refs, { billedPico: promptCost, tokens: promptTokens }, price?.entry.output ?? 0, this.ts, ctx.clock);
      if (afford < maxOut) maxOut = clamped = Math.max(1, afford);
    }
    const estimate: CallAmounts = {
      billedPico: costOf(price, { ...zeroUsage(), promptTokens, completionTokens: maxOut }).pico,
      tokens: promptTokens + maxOut,
      requests: 1,
    };
    const decision = decide(ctx.table, refs, estimate, ctx.shard, this.ts, ctx.clock);
    ctx.metrics.recordDecision(performance.now() - d0);

    if (!decision.allow) {
      const scope = refusalScope(decision.ref, ctx.table, ctx.clock, this.ts);
      const row = this.#row(call, idemKey);
      row.decision = 'blocked';
      row.reason = 'budget_exceeded';
      row.status = 402;
      await ctx.ledger.append(row);
      return this.refuse('budget_exceeded', refusalMessage(scope), { scope });
    }

    const reservation = ctx.book.open(this.requestId, decision.holds, this.ts);
    try {
      await this.#forward(call, plan.targets, reservation, refs, clamped, idemKey);
    } finally {
      // Whatever path ended the call, its hold does not outlive it.
      ctx.book.release(reservation);
    }
  }

  async #forward(call: ParsedCall, targets: Target[], reservation: Reservation, refs: BudgetRef[], clamped: number | undefined, idemKey: string | null): Promise<void> {
    const { ctx, ex, h } = this;
    // The attempt in progress; client disconnect, timeout and shutdown abort it.
    const current: { up?: UpstreamExchange; reason?: Error } = {};
    const cancel = (reason: string) => {
      current.reason = Object.assign(new Error(reason), { code: 'TG_CANCELLED' });
      current.up?.abort(current.reason);
    };
    ex.onAbort(() => cancel('client disconnected'));
    // Total-time budget of the slowest provider this call may try.
    const total = Math.max(...targets.map((t) => t.provider.timeouts.total));
    ctx.inFlightCalls.set(cancel, Date.now() + total);
    try {
      await this.#attempt(call, targets, reservation, refs, clamped, idemKey, current);
    } finally {
      ctx.inFlightCalls.delete(cancel);
    }
  }

  async #attempt(call: ParsedCall, targets: Target[], reservation: Reservation, refs: BudgetRef[], clamped: number | undefined, idemKey: string | null, current: { up?: UpstreamExchange; reason?: Error }): Promise<void> {
    const { ctx, ex, h } = this;
    const attempts: string[] = [];
    let answer: Answer | undefined;
    for (let i = 0; i < targets.length && !ex.aborted && !current.reason; i++) {
      const target = targets[i]!;
      const last = i === targets.length - 1;
      const { pool, basePath } = ctx.pools.get(target.provider);
      const payload = upstreamBody(call, target.model, clamped);
      const up = (current.up = new UpstreamExchange(ctx.config.limits.maxUpstreamBodyBytes));
      pool.dispatch({
        path: upstreamPath(target.provider, basePath, call.endpoint),
        method: 'POST',
        headers: upstreamHeaders(target.provider, h, Buffer.byteLength(payload)),
        body: payload,
      }, up);
      try {
        const head = await up.head;
        if (!last && isRetryableStatus(head.status)) {
          attempts.push(`${target.id}: HTTP ${head.status}`);
          up.discard();
          continue;
        }
        answer = { target, up, head };
        break;
      } catch (err) {
        if (ex.aborted) break;
        attempts.push(`${target.id}: ${describeError(err)}`);
      }
    }

    const row = this.#row(call, idemKey);
    if (!answer) {
      if (ex.aborted) return this.#finishAborted(row, 'client_disconnected');
      row.status = 502;
      row.reason = `upstream_failed: ${attempts.join('; ')}`.slice(0, 500);
      await ctx.ledger.append(row);
      return this.refuse('upstream_error', `no upstream answered: ${attempts.join('; ')}`);
    }
    const { target, up, head } = answer;
    row.provider = target.provider.name;
    row.model = target.model;
    if (attempts.length) row.reason = `fallback: ${attempts.join('; ')}`.slice(0, 500);
    const contentType = String(head.headers['content-type'] ?? '');

    if (head.status < 200 || head.status >= 300) {
      // A non-retryable upstream error goes back unchanged; nothing is charged.
      const bytes = await up.readAll().catch(() => Buffer.from(JSON.stringify(errorBody(this.protocol, 'upstream_error', `upstream answered ${head.status}`))));
      row.status = head.status;
      row.reason = `upstream_status_${head.status}`;
      await ctx.ledger.append(row);
      ctx.metrics.count(this.endpoint, head.status, 'upstream_error');
      const headers: Record<string, string> = { 'content-type': contentType || 'application/json', 'x-tollgate-request-id': this.requestId };
      const ra = head.headers['retry-after'];
      if (typeof ra === 'string') headers['retry-after'] = ra;
      ex.send(head.status, headers, bytes);
      return;
    }

    if (call.stream && contentType.includes('text/event-stream')) {
      return this.#relayStream(call, target, up, reservation, row);
    }

    let bytes: Buffer;
    try {
      bytes = await up.readAll();
    } catch (err) {
      if (ex.aborted) return this.#finishAborted(row, 'client_disconnected');
      row.status = 502;
      row.reason = `upstream_body_failed: ${describeError(err)}`;
      await ctx.ledger.append(row);
      return this.refuse('upstream_error', `the upstream answer failed: ${describeError(err)}`);
    }
    let json: any;
    try {
      json = JSON.parse(bytes.toString('utf8'));
    } catch {
      json = undefined;
    }
    const reported = usageFromBody(call.endpoint, json);
    let usage = reported.usage;
    row.usage_source = 'provider';
    if (!usage) {
      usage = await this.#countUsage(call, target.model, answerText(call.endpoint, json));
      row.usage_source = 'tokenizer';
    }
    const cost = this.#settle(row, reservation, target, reported.model, usage);
    row.status = head.status;
    await ctx.ledger.append(row);
    ctx.metrics.count(this.endpoint, head.status, 'allowed');
    const remaining = tightestRemaining(refs, ctx.table);
    ex.send(head.status, {
      'content-type': contentType || 'application/json',
      'x-tollgate-request-id': this.requestId,
      'x-tollgate-cost': (cost / 1e9).toFixed(9).replace(/\.?0+$/, '') || '0',
      'x-tollgate-budget-remaining': remaining ? `${remaining.value} ${remaining.unit}` : 'unlimited',
    }, bytes);
  }

  async #relayStream(call: ParsedCall, target: Target, up: UpstreamExchange, reservation: Reservation, row: UsageRecord): Promise<void> {
    const { ctx, ex } = this;
    const tracker = new StreamTracker(call.endpoint, call.wantsStreamUsage);
    const splitter = new SseSplitter();
    ex.begin(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      'x-tollgate-request-id': this.requestId,
    });
    // The event that ends the answer (and anything after it) waits until the usage row is committed.
    let held = '';
    let cutReason: string | null = null;
    try {
      for (let chunk = await up.next(); chunk; chunk = await up.next()) {
        let out = '';
        for (const ev of splitter.push(chunk)) {
          const v = tracker.inspect(ev);
          if (!v.forward) continue;
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
      if (!ex.aborted) cutReason = `upstream_stream_cut: ${describeError(err)}`;
    }
    if (ex.aborted) up.abort(new Error('client disconnected'));
    const terminated = held !== '';
    if (!terminated && !cutReason && !ex.aborted) cutReason = 'upstream_stream_ended_without_terminal_event';

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
      if (cutReason) row.reason = cutReason.slice(0, 500);
    }
    await ctx.ledger.append(row);
    ctx.metrics.count(this.endpoint, row.status, 'allowed');
    ex.end(held);
  }

  /** Prices the call on the model that answered, settles the reservation, fills the row. Returns cost in nano-USD. */
  #settle(row: UsageRecord, reservation: Reservation, target: Target, answeredModel: string | undefined, usage: CallUsage): number {
    const { ctx } = this;
    let match: PriceMatch | undefined = answeredModel ? priceOf(ctx.prices, answeredModel, target.provider.type) : undefined;
    match ??= priceOf(ctx.prices, target.model, target.provider.type);
    const cost = costOf(match, usage);
    const billedPico = cost.pico; // resale markup applies here (pricing issue)
    ctx.book.settle(reservation, { billedPico, tokens: usage.promptTokens + usage.completionTokens, requests: 1 });
    row.model = answeredModel ?? target.model;
    row.prompt_tokens = usage.promptTokens;
    row.completion_tokens = usage.completionTokens;
    row.cached_tokens = usage.cachedTokens;
    row.cache_write_tokens = usage.cacheWriteTokens + usage.cacheWrite1hTokens;
    row.cost_nano = picoToNano(cost.pico);
    row.billed_nano = picoToNano(billedPico);
    row.price_source = cost.source;
    row.latency_ms = Math.round(performance.now() - this.t0);
    if (!match) ctx.metrics.unpricedCalls++;
    else if (row.cost_nano === 0 && usage.promptTokens + usage.completionTokens > 0) {
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
    row.latency_ms = Math.round(performance.now() - this.t0);
    return row;
  }
}
