import type { PriceEntry, PriceExplanation, PriceMatch, PriceTable } from '../pricing/price-table.js';
import type { ResaleTerms } from '../pricing/resale.js';
import { billedPico, customPrice } from '../pricing/resale.js';
import { errorBody, errorStatus } from '../http/errors.js';

// GET /admin/pricing/:model[?customer=ID]: the provider's price for a model
// and what a customer pays for it (markup or custom price list), per 1M tokens.

const perMillion = (pico: number | undefined) => (pico === undefined ? null : pico / 1e6);

function providerPrice(e: PriceEntry) {
  return {
    input: perMillion(e.input),
    output: perMillion(e.output),
    cached_input: perMillion(e.cache_read),
    cache_write: perMillion(e.cache_write),
    cache_write_1h: perMillion(e.cache_write_1h),
    per_image: e.per_image === undefined ? null : e.per_image / 1e12,
    per_second: e.per_second === undefined ? null : e.per_second / 1e12,
    tiers: (e.tiers ?? []).map((t) => ({ above_prompt_tokens: t.above, input: perMillion(t.input), output: perMillion(t.output) })),
  };
}

export function priceView(model: string, match: PriceMatch | undefined, resale: ResaleTerms | undefined) {
  if (!match) return undefined;
  const e = match.entry;
  const provider = providerPrice(e);
  const customer = resale
    ? {
        markup: customPrice(resale, model) || customPrice(resale, match.id) ? null : resale.markup,
        // What 1M tokens of each kind bill at, so custom lists and markups read the same way.
        input: billedPico(resale, [model, match.id], (e.input ?? 0) * 1e6, { promptTokens: 1e6, completionTokens: 0 }) / 1e12,
        output: billedPico(resale, [model, match.id], (e.output ?? 0) * 1e6, { promptTokens: 0, completionTokens: 1e6 }) / 1e12,
      }
    : undefined;
  return { model, matched: match.id, via: match.via, provider_family: e.provider, mode: e.mode, source: e.source, ...(e.free ? { free: true } : {}), unit: 'USD per 1M tokens', provider_price: provider, customer_price: customer };
}

const resolution = (x: PriceExplanation) => ({
  ...(x.providerHint ? { provider_hint: x.providerHint } : {}),
  ...(x.priceAs ? { price_as: x.priceAs } : {}),
  resolved_id: x.resolvedId ?? null,
  via: x.resolvedVia ?? null,
  priced: x.match !== undefined,
  ...(x.unpriced ? { unpriced_reason: x.unpriced } : {}),
  detail: x.detail,
});

/**
 * GET /admin/pricing/:model[?provider=TYPE&priceAs=ID&customer=ID]: the price view plus how the id
 * resolved (`resolution`). An unpriced id (unknown, a $0 entry not marked free, a fine-tune with
 * no fine-tune rate) answers 404 with the reason, or, under `unknownModel: default`, the default
 * price with the reason alongside.
 */
export function pricingResponse(
  prices: PriceTable, model: string, opts: { provider?: string; priceAs?: string },
  unknownPrice: PriceMatch | undefined, resale: ResaleTerms | undefined, now: number = Date.now(),
): { status: 200 | 404; body: Record<string, unknown> } {
  const x = prices.explain(model, opts.provider || undefined, opts.priceAs || undefined, now);
  const view = priceView(model, x.match ?? unknownPrice, resale);
  if (!view) return { status: errorStatus('not_found_error'), body: { ...(errorBody('openai', 'not_found_error', `no price for model "${model}": ${x.detail}`) as object), resolution: resolution(x) } };
  const schedule = x.match ? priceSchedule(prices, x.match.id, now) : undefined;
  return { status: 200, body: { ...view, ...(schedule ? { price_schedule: schedule } : {}), resolution: resolution(x) } };
}

/**
 * An entry's dated price changes (`changes` in models.json), oldest first: the provider price
 * from each instant, and whether it is past, in force now, or scheduled. `provider_price` above
 * is the one in force now. Undefined for an entry without changes.
 */
export function priceSchedule(prices: PriceTable, id: string, now: number) {
  const versions = prices.schedule(id);
  if (!versions || versions.length < 2) return undefined;
  let current = 0;
  versions.forEach((v, i) => { if (v.from <= now) current = i; });
  return versions.map((v, i) => ({
    effective_from: Number.isFinite(v.from) ? new Date(v.from).toISOString() : null,
    status: i < current ? 'past' : i === current ? 'in_force' : 'scheduled',
    provider_price: providerPrice(v.entry),
  }));
}
