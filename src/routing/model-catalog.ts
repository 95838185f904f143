import type { ProviderConfig } from '../config/schema.js';
import type { PriceEntry } from '../pricing/price-table.js';
import { globMatch } from './route-table.js';

// What GET /v1/models lists: every model name a caller can ask for and get
// served, bounded and predictable.
//   1. every route's logical name (priced as its first tier-0 target);
//   2. every name a provider lists in `models:` without a wildcard;
//   3. for a `models:` glob, the price table's models the glob matches;
//   4. a provider with no `models:` takes any model of its protocol, so it
//      contributes the price table's models of its own family (`provider`
//      of the entry equals the provider's `type`: openai, anthropic).
// Chat, responses and embedding models only; at most MAX_LISTED entries
// (routes and explicit names first). Any other name still routes to the
// first provider of the calling protocol: the list is what is known to work
// and be priced, not a whitelist.

export const MAX_LISTED = 1000;
const LISTED_MODES = new Set(['chat', 'responses', 'completion', 'embedding']);

export interface CatalogEntry {
  id: string;
  /** Provider name, or "tollgate" for a route. */
  ownedBy: string;
  /** The model the price is looked up under. */
  pricedAs: string;
}

export interface CatalogSource {
  routes: { name: string; pricedAs: string }[];
  providers: readonly Pick<ProviderConfig, 'name' | 'type' | 'models'>[];
  prices: Iterable<[string, PriceEntry]>;
}

export function modelCatalog(src: CatalogSource): CatalogEntry[] {
  const out = new Map<string, CatalogEntry>();
  const add = (e: CatalogEntry) => {
    if (out.size < MAX_LISTED && !out.has(e.id)) out.set(e.id, e);
  };
  for (const r of src.routes) add({ id: r.name, ownedBy: 'tollgate', pricedAs: r.pricedAs });
  for (const p of src.providers) for (const g of p.models) if (!g.includes('*')) add({ id: g, ownedBy: p.name, pricedAs: g });
  const globbed = src.providers.filter((p) => p.models.some((g) => g.includes('*')));
  const catchAll = src.providers.filter((p) => p.models.length === 0);
  if (globbed.length || catchAll.length) {
    for (const [id, e] of src.prices) {
      if (!LISTED_MODES.has(e.mode) || id.includes('/')) continue; // "vendor/model" ids belong to other gateways
      const owner = globbed.find((p) => p.models.some((g) => g.includes('*') && globMatch(g, id))) ?? catchAll.find((p) => p.type === e.provider);
      if (owner) add({ id, ownedBy: owner.name, pricedAs: id });
    }
  }
  return [...out.values()];
}
