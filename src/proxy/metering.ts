import type { CallAmounts } from '../budget/budget-ref.js';
import type { PriceMatch } from '../pricing/price-table.js';
import { billedPico, type ResaleTerms } from '../pricing/resale.js';
import type { CallUsage } from '../protocols/call.js';
import type { UsageRecord } from '../store/usage-record.js';
import { costOf, picoToNano } from './call-pricing.js';
import type { ShardContext } from './shard-context.js';

// Turning a call's usage into money on its usage row, for proxied calls and
// monitoring events alike: the provider's price, the customer's resale
// terms, the row's token and money fields, the spend metrics, and the
// warnings for calls served unpriced (unknownModel) or priced at zero.

export interface Metered {
  /** What the budgets and velocity windows are settled with. */
  actual: CallAmounts;
}

/**
 * Prices `usage` with `match` (undefined: no price at all), fills the row's
 * usage and money fields and records the spend. `models` are the names the
 * resale terms may know the call by, most specific last.
 */
export function meterUsage(ctx: ShardContext, row: UsageRecord, match: PriceMatch | undefined, usage: CallUsage, resale: ResaleTerms, models: readonly (string | null | undefined)[]): Metered {
  const cost = costOf(match, usage);
  const billed = billedPico(resale, models, cost.pico, usage);
  row.prompt_tokens = usage.promptTokens;
  row.completion_tokens = usage.completionTokens;
  row.cached_tokens = usage.cachedTokens;
  row.cache_write_tokens = usage.cacheWriteTokens + usage.cacheWrite1hTokens;
  row.cache_write_1h_tokens = usage.cacheWrite1hTokens; // the split a re-rate needs to price the row again
  row.cost_nano = picoToNano(cost.pico);
  row.billed_nano = picoToNano(billed);
  row.price_source = cost.source;
  ctx.metrics.recordSpend(row.customer, row.cost_nano, usage.promptTokens, usage.completionTokens);
  if (!match || match.id === 'unknown') {
    // Served under the unknownModel rule (zero or the default price): never silently.
    ctx.metrics.unpricedCalls++;
    ctx.log('warn', 'model has no price in the table; charged by the unknownModel rule', { request_id: row.request_id, model: row.model, rule: ctx.config.unknownModel });
  } else if (row.cost_nano === 0 && usage.promptTokens + usage.completionTokens > 0) {
    ctx.metrics.zeroCostCalls++;
    ctx.log('warn', 'call with tokens priced at zero', { request_id: row.request_id, model: row.model, price_source: cost.source });
  }
  return { actual: { billedPico: billed, tokens: usage.promptTokens + usage.completionTokens, requests: 1 } };
}
