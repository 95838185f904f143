import type { PriceMatch, PriceTable } from '../pricing/price-table.js';
import { costPico, costPicoFast, type UsageUnits } from '../pricing/cost.js';
import type { CallUsage } from '../protocols/call.js';

// Price of a call on the model that actually answered, in integer pico-USD.

export interface Priced { pico: number; source: string }

/**
 * `priceAs` (a provider's or target's) prices a deployment name such as an Azure one as the model it serves.
 * `at` is the call's timestamp: the price in force then (an entry's dated `changes`), now when omitted.
 */
export function priceOf(prices: PriceTable, model: string, providerType: string, fallback?: PriceMatch, priceAs?: string, at?: number): PriceMatch | undefined {
  return prices.lookup(model, providerType, priceAs, at) ?? fallback;
}

/** The configured price for models the table does not know (`unknownModel: default`). */
export function unknownModelFallback(rule: { input: number; output: number } | undefined): PriceMatch | undefined {
  if (!rule) return undefined;
  return {
    id: 'unknown',
    via: 'exact',
    entry: { provider: 'unknown', mode: 'chat', source: 'override', input: Math.round(rule.input * 1e6), output: Math.round(rule.output * 1e6) },
  };
}

export function costOf(match: PriceMatch | undefined, usage: CallUsage): Priced {
  if (!match) return { pico: 0, source: 'unknown' };
  // Token counts only (every chat call): priced from the usage as it is, with no copy of it.
  if ((usage as UsageUnits).batch === undefined && !usage.images && !usage.seconds && !usage.characters) {
    const pico = costPicoFast(match.entry, usage);
    if (pico !== undefined) return { pico, source: match.id };
  }
  return {
    pico: costPico(match.entry, {
      promptTokens: usage.promptTokens,
      completionTokens: usage.completionTokens,
      cachedTokens: usage.cachedTokens,
      cacheWriteTokens: usage.cacheWriteTokens,
      cacheWrite1hTokens: usage.cacheWrite1hTokens,
      ...(usage.images ? { images: usage.images } : {}),
      ...(usage.seconds ? { seconds: usage.seconds } : {}),
      ...(usage.characters ? { characters: usage.characters } : {}),
    }),
    source: match.id,
  };
}

export const picoToNano = (pico: number): number => Math.round(pico / 1000);
