import { affordableOutputTokens } from '../budget/decide.js';
import type { CallAmounts } from '../budget/budget-ref.js';
import type { ResolvedScope } from '../policy/scope-policy.js';
import type { PriceMatch } from '../pricing/price-table.js';
import { billedPico } from '../pricing/resale.js';
import { zeroUsage, type CallUsage, type ParsedCall } from '../protocols/call.js';
import { costOf } from './call-pricing.js';
import type { ShardContext } from './shard-context.js';

// What a call reserves before it is forwarded: its prompt estimate plus the
// most output it may produce per choice (n, best_of) (the client's cap, else the model's, lowered to
// what the tightest budget can still pay for when the scope clamps), priced
// on the first planned target and resold on the scope's terms.

export interface ReservationEstimate {
  estimate: CallAmounts;
  /** The lowered output cap, when the budget clamped it (sent upstream). */
  clamped: number | undefined;
}

export function reservationEstimate(ctx: ShardContext, scope: ResolvedScope, call: ParsedCall, firstModel: string, price: PriceMatch | undefined, now: number): ReservationEstimate {
  const refs = scope.refs;
  const promptTokens = call.promptTokensFor(firstModel);
  let maxOut = call.maxOutputTokens ?? price?.entry.max_output_tokens ?? ctx.config.defaultMaxOutputTokens;
  let clamped: number | undefined;
  if (refs.length && scope.clampMaxTokens) {
    const promptCost = costOf(price, { ...zeroUsage(), promptTokens }).pico;
    // Every choice may run to the cap: what the budget affords is shared among them.
    const afford = Math.floor(affordableOutputTokens(ctx.table, refs, { billedPico: promptCost, tokens: promptTokens }, price?.entry.output ?? 0, now, ctx.clock) / call.choices);
    if (afford < maxOut) maxOut = clamped = Math.max(1, afford);
  }
  const estimateUsage: CallUsage = { promptTokens, completionTokens: maxOut * call.choices, cachedTokens: 0, cacheWriteTokens: 0, cacheWrite1hTokens: 0 };
  return {
    estimate: {
      billedPico: billedPico(scope.resale, [call.model, firstModel], costOf(price, estimateUsage).pico, estimateUsage),
      tokens: promptTokens + maxOut * call.choices,
      requests: 1,
    },
    clamped,
  };
}
