import type { PriceEntry } from './price-table.js';
import { costPico, type UsageUnits } from './cost.js';

// What the customer is charged, as opposed to what the provider charges us:
// a custom price list for a model wins, else provider cost × markup. Budgets
// count this billed amount; the usage row keeps both, so margin is visible.

export interface ResaleTerms {
  markup: number;
  /** Custom prices by model id (as requested or as answered), pico-USD per token. */
  prices: Record<string, Pick<PriceEntry, 'input' | 'output' | 'cache_read'>>;
}

export const AT_COST: ResaleTerms = { markup: 1, prices: {} };

/** $ per 1M tokens (config) → pico-USD per token (table unit); exact for up to 6 decimals. */
export function perMillionToPico(usdPerMillion: number): number {
  return Math.round(usdPerMillion * 1e6);
}

/**
 * The custom price list for `model`, if the terms have one. Own keys only:
 * the names come from clients and upstream answers, and `prices` is a plain
 * object, so `prices["constructor"]` (or toString, __proto__, ...) read
 * through to Object.prototype and billed such a call at 0.
 */
export function customPrice(terms: ResaleTerms, model: string | null | undefined): ResaleTerms['prices'][string] | undefined {
  return model && Object.hasOwn(terms.prices, model) ? terms.prices[model] : undefined;
}

export function billedPico(terms: ResaleTerms, models: readonly (string | null | undefined)[], providerPico: number, usage: UsageUnits): number {
  for (const m of models) {
    const custom = customPrice(terms, m);
    if (custom) return costPico({ provider: 'custom', mode: 'chat', source: 'override', ...custom }, usage);
  }
  return terms.markup === 1 ? providerPico : Math.round(providerPico * terms.markup);
}
