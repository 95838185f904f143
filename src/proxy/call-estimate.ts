import { affordableOutputTokens } from '../budget/decide.js';
import type { CallAmounts } from '../budget/budget-ref.js';
import type { ResolvedScope } from '../policy/scope-policy.js';
import type { PriceMatch } from '../pricing/price-table.js';
import { billedPico } from '../pricing/resale.js';
import { zeroUsage, type CallUsage, type ParsedCall } from '../protocols/call.js';
import { outputCeiling } from './billed-usage.js';
import { costOf } from './call-pricing.js';
import type { ShardContext } from './shard-context.js';

// What a call reserves before it is forwarded: its prompt estimate plus the
// output it may produce, priced on the first planned target and resold on the
// scope's terms. The output held, per choice:
//
// - the client's cap (max_tokens and kin) when it sets one;
// - with clampMaxTokens, that cap (else the model's max) lowered to what the
//   tightest budget can still pay for, and sent upstream: zero overshoot;
// - otherwise a forecast of what such calls use (output-forecast.ts). A
//   stream extends it as it outgrows it and is ended at the budget
//   (stream-hold.ts); a non-streamed answer cannot be cut, so it may pass its
//   hold by at most (the model's max − the hold) output tokens × price —
//   times the calls in flight at once.
//
// A stream whose hold (forecast or the client's cap) the budget cannot pay
// for is held what the budget has left, at least reservations.minTokens: it
// is cut where the budget ends, so a customer with room for 300 tokens still
// gets a 40-token answer (an Anthropic client always sends max_tokens).

export interface ReservationEstimate {
  estimate: CallAmounts;
  /** The lowered output cap, when the budget clamped it (sent upstream). */
  clamped: number | undefined;
  /** Output tokens held, all choices. */
  outputHold: number;
  /** Set when the output held is less than the upstream may produce (a forecast, or a stream held what the budget has left): a stream grows it as it goes. */
  growable?: GrowableHold;
}

export interface GrowableHold {
  /** The most output the call can produce (the model's max × choices): no hold need go past it. */
  ceiling: number;
  /** What `outputTokens` more output costs, in every budget dimension. */
  amountsFor(outputTokens: number): CallAmounts;
}

export function reservationEstimate(ctx: ShardContext, scope: ResolvedScope, call: ParsedCall, firstModel: string, price: PriceMatch | undefined, now: number, customer: string): ReservationEstimate {
  const refs = scope.refs;
  const promptTokens = call.promptTokensFor(firstModel);
  const modelMax = price?.entry.max_output_tokens ?? ctx.config.defaultMaxOutputTokens;
  const choices = call.choices; // n, best_of: every choice may run to the cap
  const outputPico = price?.entry.output ?? 0;
  let maxOut = call.maxOutputTokens ?? modelMax;
  let clamped: number | undefined;
  let growable: GrowableHold | undefined;
  if (refs.length && scope.clampMaxTokens) {
    // What the budget affords is shared among the choices.
    const afford = Math.floor(affordableOutputTokens(ctx.table, refs, { billedPico: promptCost(price, promptTokens), tokens: promptTokens }, outputPico, now, ctx.clock) / choices);
    if (afford < maxOut) maxOut = clamped = Math.max(1, afford);
  } else {
    const ceiling = call.maxOutputTokens ?? modelMax;
    if (call.maxOutputTokens === undefined) maxOut = ctx.forecast.hold(customer, call.model, modelMax);
    if (call.stream && refs.length) {
      const afford = affordableOutputTokens(ctx.table, refs, { billedPico: promptCost(price, promptTokens), tokens: promptTokens }, outputPico, now, ctx.clock);
      const perChoice = Math.floor(afford / choices);
      if (perChoice < maxOut) maxOut = Math.max(Math.min(maxOut, ctx.config.reservations.minTokens), perChoice);
    }
    if (maxOut < ceiling) {
      growable = {
        ceiling: ceiling * choices,
        amountsFor: (outputTokens) => {
          const usage: CallUsage = { ...zeroUsage(), completionTokens: outputTokens };
          return { billedPico: billedPico(scope.resale, [call.model, firstModel], costOf(price, usage).pico, usage), tokens: outputTokens, requests: 0 };
        },
      };
    }
  }
  const outputHold = outputCeiling(call, maxOut)!;
  // A prompt marked for caching may be billed entirely as cache writes (dearer than input).
  const ttl = call.cacheWrite;
  const estimateUsage: CallUsage = { promptTokens, completionTokens: outputHold, cachedTokens: 0, cacheWriteTokens: ttl === '5m' ? promptTokens : 0, cacheWrite1hTokens: ttl === '1h' ? promptTokens : 0 };
  return {
    estimate: {
      billedPico: billedPico(scope.resale, [call.model, firstModel], costOf(price, estimateUsage).pico, estimateUsage),
      tokens: promptTokens + outputHold,
      requests: 1,
    },
    clamped,
    outputHold,
    growable,
  };
}

/** What the prompt alone costs (before resale). */
function promptCost(price: PriceMatch | undefined, promptTokens: number): number {
  return costOf(price, { ...zeroUsage(), promptTokens }).pico;
}
