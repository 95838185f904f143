import type { PriceMatch } from '../pricing/price-table.js';
import type { ShardContext } from '../proxy/shard-context.js';

/**
 * The price of a model an app reports calling itself. `provider` may name a
 * configured provider (its type is the lookup hint) or be a provider type
 * such as "anthropic"; without it the table's own aliases decide.
 */
export function reportedPrice(ctx: ShardContext, model: string, provider?: string): PriceMatch | undefined {
  const configured = provider ? ctx.config.providers.find((p) => p.name === provider) : undefined;
  return ctx.prices.lookup(model, configured?.type ?? provider) ?? (provider ? ctx.prices.lookup(model) : undefined);
}
