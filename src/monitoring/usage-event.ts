import { SHADOW_REASON } from '../store/usage-record.js';
import type { BudgetRef, CallAmounts } from '../budget/budget-ref.js';
import { settleHolds } from '../budget/decide.js';
import { chargeSession, sessionCall } from '../budget/session-budgets.js';
import type { Caller } from '../identity/key-directory.js';
import type { ResolvedScope } from '../policy/scope-policy.js';
import { settleRates } from '../policy/velocity.js';
import type { CallUsage } from '../protocols/call.js';
import { meterUsage } from '../proxy/metering.js';
import { tightestRemaining } from '../proxy/refusal.js';
import { newRequestId } from '../proxy/request-id.js';
import type { ShardContext } from '../proxy/shard-context.js';
import { baseRow } from '../proxy/usage-row.js';
import { NO_RETRY } from '../proxy/call-intake.js';
import type { Answer } from './answer.js';
import { refuse } from './authorize.js';
import type { MonitorBook } from './monitor-book.js';
import { reportedPrice } from './reported-price.js';
import type { EventBody, ReleaseBody } from './usage-bodies.js';

// POST /v1/usage/events and /v1/usage/release, run on the shard that owns
// the reservation (or, without one, the shard the idempotency key hashes
// to), so every retry of one event meets the same in-flight map and the same
// book. An event is priced like a proxied call's answer, settles the hold
// (or charges without one: the call already happened, so it always counts),
// and commits a usage row before it is answered. Its idempotency key is
// recorded with the row; a repeat answers the first charge again.

export const EVENTS_PATH = '/v1/usage/events';

export type ReservationOutcome = 'settled' | 'expired' | 'none' | 'unknown' | 'already_settled' | 'released';

export class UsageEvents {
  readonly #inFlight = new Map<string, Promise<Answer>>();

  constructor(private readonly ctx: ShardContext, private readonly book: MonitorBook) {}

  async record(caller: Caller, body: EventBody, now: number): Promise<Answer> {
    const { ctx } = this;
    const key = `${caller.customer}\u0000${body.idempotency_key}`;
    const running = this.#inFlight.get(key);
    if (running) return this.#repeat(caller, body, now, await running);
    // Issue 11.8: copies with and without reservation_id run on different
    // shards, so this shard's map alone let both charge. The process-wide
    // claim comes first and the ledger check after it, so a copy that gets
    // the claim once the first one released it finds the committed row.
    const claim = ctx.claimIdempotencyKey(caller.customer, body.idempotency_key);
    if (claim === 'full') return refuse('overloaded_error', 'too many events and calls with an idempotency key are in flight; retry with the same idempotency_key, it is never charged twice', {}, { 'retry-after': '1' });
    if (claim === 'in_flight') {
      const prior = await ctx.ledger.findIdempotent(caller.customer, body.idempotency_key, now, ctx.config.idempotencyWindow);
      if (prior) return this.#repeat(caller, body, now, this.#replay(prior));
      return refuse('idempotency_key_reused', `an event or proxied call with idempotency key "${body.idempotency_key}" is still in flight; retry with the same idempotency_key, it is never charged twice`, {}, { ...NO_RETRY });
    }
    const p = (async () => {
      const prior = await ctx.ledger.findIdempotent(caller.customer, body.idempotency_key, now, ctx.config.idempotencyWindow);
      return prior ? this.#repeat(caller, body, now, this.#replay(prior)) : this.#charge(caller, body, now);
    })();
    this.#inFlight.set(key, p);
    try {
      return await p;
    } finally {
      this.#inFlight.delete(key);
      ctx.releaseIdempotencyKey(caller.customer, body.idempotency_key);
    }
  }

  /**
   * A copy of an event another copy charged: the first charge again. Its own
   * hold, if still held, is for that same call: returned now, not at its TTL.
   */
  #repeat(caller: Caller, body: EventBody, now: number, first: Answer): Answer {
    const held = body.reservation_id ? this.book.get(body.reservation_id) : undefined;
    if (first.status === 200 && held && held.caller.customer === caller.customer) this.book.release(held, now);
    return duplicate(first);
  }

  async #charge(caller: Caller, body: EventBody, now: number): Promise<Answer> {
    const { ctx, book } = this;
    const found = body.reservation_id ? book.get(body.reservation_id) : undefined;
    // Another customer's reservation is as good as unknown (and says nothing about it).
    const hold = found && found.caller.customer === caller.customer ? found : undefined;
    // A reservation keeps the session it was authorized in; without one, the body's `session` wins over the header.
    const who = hold ? hold.caller : body.session ? { ...caller, session: body.session } : caller;

    const r = ctx.scopes.get(who.customer, who.agent);
    const scope = r instanceof Promise ? await r : r;
    const price = reportedPrice(ctx, body.model, body.provider) ?? ctx.unknownPrice;
    const usage: CallUsage = {
      promptTokens: body.prompt_tokens,
      completionTokens: body.completion_tokens,
      cachedTokens: body.cached_tokens,
      cacheWriteTokens: body.cache_write_tokens,
      cacheWrite1hTokens: 0,
    };
    const requestId = newRequestId(now);
    const row = baseRow(requestId, now, who, EVENTS_PATH, body.model, body.idempotency_key);
    row.model = body.model;
    row.provider = body.provider ?? null;
    // Priced, resold and recorded exactly as a proxied call's answer (metering.ts).
    const { actual } = meterUsage(ctx, row, price, usage, scope.resale, [hold?.model, body.model]);

    let outcome: ReservationOutcome;
    let refs: readonly BudgetRef[];
    if (hold) {
      const before = book.settle(hold, actual, now);
      outcome = before === 'held' ? 'settled' : before === 'expired' ? 'expired' : before === 'settled' ? 'already_settled' : 'released';
      // What an uncapped call used, for the next forecast holds (once per reservation).
      if (before === 'held' && hold.forecastModel) ctx.forecast.record(hold.caller.customer, hold.forecastModel, body.completion_tokens);
      refs = hold.reservation.holds.map((h) => h.ref);
      if (outcome === 'already_settled' || outcome === 'released') refs = this.#chargeUnreserved(scope, actual, now, who);
    } else {
      outcome = body.reservation_id ? 'unknown' : 'none';
      refs = this.#chargeUnreserved(scope, actual, now, who);
    }

    row.usage_source = 'reported';
    row.status = 200;
    row.latency_ms = body.latency_ms ?? (hold ? now - hold.openedAt : 0);
    if (outcome !== 'settled' && outcome !== 'none') row.reason = `reservation_${outcome}`;
    if (hold?.shadowExceeded) {
      row.shadow_exceeded = true;
      row.reason = row.reason ? `${SHADOW_REASON}; ${row.reason}` : SHADOW_REASON;
    }
    await ctx.ledger.append(row);

    const remaining = tightestRemaining(refs, ctx.table);
    return {
      status: 200,
      headers: { 'x-tollgate-request-id': requestId },
      body: {
        request_id: requestId,
        cost_usd: row.cost_nano / 1e9,
        billed: row.billed_nano / 1e9,
        reservation: outcome,
        budget_remaining: remaining ? { value: remaining.value, unit: remaining.unit } : null,
      },
    };
  }

  /** The call happened without a live hold: its actual amounts count in full, past the cap if need be. */
  #chargeUnreserved(scope: ResolvedScope, actual: CallAmounts, now: number, who: Caller): readonly BudgetRef[] {
    const { ctx } = this;
    const session = sessionCall(who.customer, who.session);
    if (session) chargeSession(ctx.sessions, scope.sessions, session, actual, now, ctx.sessionTiming, ctx.shard);
    for (const ref of scope.refs) ctx.table.rollover(ref.slot, ctx.clock.window(ref.period, now, ref.timeZone).start);
    settleHolds(ctx.table, scope.refs.map((ref) => ({ ref, amount: 0n })), actual, ctx.shard, true);
    if (scope.rates.length) settleRates(ctx.policyTables.windows, scope.rates.map((ref) => ({ ref, amount: 0 })), actual, now);
    return scope.refs;
  }

  #replay(prior: { request_id: string; ts: number }): Answer {
    const row = this.ctx.ledger.get(prior.ts, prior.request_id);
    return duplicate({
      status: 200,
      headers: { 'x-tollgate-request-id': prior.request_id },
      body: { request_id: prior.request_id, cost_usd: row ? row.cost_nano / 1e9 : null, billed: row ? row.billed_nano / 1e9 : null },
    });
  }

  release(caller: Caller, body: ReleaseBody, now: number): Answer {
    const found = this.book.get(body.reservation_id);
    if (!found || found.caller.customer !== caller.customer) {
      // Never issued, forgotten, or held by a shard that has since restarted (whose holds the supervisor returned).
      return { status: 200, body: { released: false, reservation: 'unknown' } };
    }
    const before = this.book.release(found, now);
    return { status: 200, body: { released: before === 'held', reservation: before === 'held' ? 'released' : before } };
  }
}

/** A repeat of an event already charged: the first answer again, marked, charged nothing. */
function duplicate(a: Answer): Answer {
  return a.status === 200 && a.body && typeof a.body === 'object' ? { ...a, body: { ...a.body, duplicate: true } } : a;
}
