// Which configured targets the price table cannot price. PURE: config in, list out; the shard
// logs one startup warning per entry, so an Azure deployment name without `priceAs` (or a typo
// in one) is found at startup, not on the first refused call.

import type { PriceTable, UnpricedReason } from './price-table.js';

export interface UnpricedTarget {
  /** The route's logical model, or undefined for a provider's `models` list. */
  route?: string;
  provider: string;
  model: string;
  priceAs?: string;
  reason: UnpricedReason;
  detail: string;
}

interface ProviderLike { name: string; type: string; priceAs?: string; models: string[] }
interface ConfigLike {
  providers: ProviderLike[];
  routes: { model: string; targets: { provider: string; model: string; priceAs?: string }[] }[];
}

export function unpricedTargets(config: ConfigLike, prices: PriceTable): UnpricedTarget[] {
  const out: UnpricedTarget[] = [];
  const byName = new Map(config.providers.map((p) => [p.name, p]));
  const check = (route: string | undefined, p: ProviderLike, model: string, priceAs: string | undefined) => {
    const x = prices.explain(model, p.type, priceAs);
    if (x.match || !x.unpriced) return;
    out.push({ ...(route ? { route } : {}), provider: p.name, model, ...(priceAs ? { priceAs } : {}), reason: x.unpriced, detail: x.detail });
  };
  for (const r of config.routes) {
    for (const t of r.targets) {
      const p = byName.get(t.provider);
      if (p) check(r.model, p, t.model, t.priceAs ?? p.priceAs);
    }
  }
  // Models a provider serves by name (globs cannot be checked).
  for (const p of config.providers) for (const m of p.models) if (!m.includes('*')) check(undefined, p, m, p.priceAs);
  return out;
}
