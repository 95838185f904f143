// A stored usage row priced again with the table as it is now, at the row's own timestamp (the
// version of a dated price in force then). PURE. Used by re-rating (src/admin/rerate.ts) after a
// price correction.

import type { UsageRecord } from '../store/usage-record.js';
import { costPico, type UsageUnits } from './cost.js';
import type { PriceTable } from './price-table.js';
import { billedPico, type ResaleTerms } from './resale.js';

export interface Repriced {
  cost_nano: number;
  billed_nano: number;
  price_source: string;
}

/** Why a row is left as it is. */
export type RepriceSkip =
  | 'blocked'            // refused calls carry no money
  | 'not_metered'        // never priced (no price_source): nothing to correct
  | 'no_price_now'       // its table entry is gone or $0 now: never re-rated to nothing
  | 'still_unpriced'     // charged by the unknownModel rule, and the table still has no price
  | 'not_token_priced'   // images / audio seconds / characters: the row does not carry those units
  | 'cache_split_unknown'; // written before rows kept the 1-hour cache-write count, and the entry prices the two differently

const TOKEN_MODES = new Set(['chat', 'responses', 'completion', 'embedding']);
const nano = (pico: number) => Math.round(pico / 1000);

/**
 * The row's figures under the current table. A row priced from a table entry is priced from the
 * same entry id (what the call was billed as, after aliases and priceAs); a row charged by the
 * unknownModel rule gets the model's table price if it has one now (`providerType`: the type of
 * the row's provider, for the lookup hint). Billed is recomputed with `resale` (the customer's
 * terms now) only when the provider cost changes: terms that changed since are not applied
 * backwards to rows whose cost stands.
 */
export function repriceRow(row: UsageRecord, prices: PriceTable, resale: ResaleTerms, providerType?: string): Repriced | RepriceSkip {
  if (row.decision !== 'allowed') return 'blocked';
  if (!row.price_source) return 'not_metered';
  const unknown = row.price_source === 'unknown';
  const match = unknown
    ? row.model ? prices.lookup(row.model, providerType, undefined, row.ts) : undefined
    : prices.lookup(row.price_source, undefined, undefined, row.ts);
  if (!match) return unknown ? 'still_unpriced' : 'no_price_now';
  if (!unknown && match.id !== row.price_source) return 'no_price_now';
  const e = match.entry;
  if (!TOKEN_MODES.has(e.mode)) return 'not_token_priced';
  const oneHour = row.cache_write_1h_tokens;
  if (oneHour === undefined && row.cache_write_tokens > 0 && e.cache_write_1h !== undefined && e.cache_write_1h !== e.cache_write) return 'cache_split_unknown';
  const usage: UsageUnits = {
    promptTokens: row.prompt_tokens,
    completionTokens: row.completion_tokens,
    cachedTokens: row.cached_tokens,
    cacheWriteTokens: row.cache_write_tokens - (oneHour ?? 0),
    cacheWrite1hTokens: oneHour ?? 0,
  };
  const cost = costPico(e, usage);
  const cost_nano = nano(cost);
  if (cost_nano === row.cost_nano) return { cost_nano, billed_nano: row.billed_nano, price_source: row.price_source };
  return { cost_nano, billed_nano: nano(billedPico(resale, [row.model_requested, row.model, match.id], cost, usage)), price_source: match.id };
}
